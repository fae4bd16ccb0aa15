"""Deprecated alias, kept for one release: jobs enqueued before the upgrade name
`jobs.commands.handle_comment`. The runner is `jobs.command_runner` (the parser is
`app.command_parser`)."""

from jobs.command_runner import handle_comment

__all__ = ["handle_comment"]
