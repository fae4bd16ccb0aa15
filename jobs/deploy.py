"""Deprecated alias, kept for one release: jobs enqueued before the upgrade name
`jobs.deploy.on_deployment_status`. The orchestrator lives in `jobs.release.rollback`."""

from jobs.release import on_deployment_status

__all__ = ["on_deployment_status"]
