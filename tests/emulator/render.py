"""JSON shapes of users, repositories, the App and git objects, as GitHub's REST API sends them."""

from __future__ import annotations

import base64

from tests.emulator import git
from tests.emulator.state import AppInfo, Installation, Repo, Store

HTML = "https://github.com"

_REPO_URLS = {
    "forks_url": "/forks",
    "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}",
    "teams_url": "/teams",
    "hooks_url": "/hooks",
    "issue_events_url": "/issues/events{/number}",
    "events_url": "/events",
    "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}",
    "tags_url": "/tags",
    "blobs_url": "/git/blobs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages",
    "stargazers_url": "/stargazers",
    "contributors_url": "/contributors",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}",
    "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}",
    "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}",
    "downloads_url": "/downloads",
    "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}",
    "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}


def node_id(kind: str, ident: int | str) -> str:
    return base64.b64encode(f"0:{kind}{ident}".encode()).decode().rstrip("=")


def user(store: Store, login: str) -> dict:
    u = store.user(login)
    api = f"{store.base_url}/users/{login}"
    return {
        "login": u.login,
        "id": u.id,
        "node_id": node_id(u.type, u.id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{u.id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{HTML}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": u.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def organization(store: Store, login: str) -> dict:
    u = store.user(login, "Organization")
    api = f"{store.base_url}/orgs/{login}"
    return {
        "login": login,
        "id": u.id,
        "node_id": node_id("Organization", u.id),
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{u.id}?v=4",
        "description": None,
    }


def repository(store: Store, repo: Repo, *, full: bool = True) -> dict:
    api = f"{store.base_url}/repos/{repo.full_name}"
    out = {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": user(store, repo.owner),
        "html_url": f"{HTML}/{repo.full_name}",
        "description": None,
        "fork": repo.fork_of is not None,
        "url": api,
        **{k: api + v for k, v in _REPO_URLS.items()},
        "created_at": repo.created_at,
        "updated_at": repo.pushed_at,
        "pushed_at": repo.pushed_at,
        "git_url": f"git://github.com/{repo.full_name}.git",
        "ssh_url": f"git@github.com:{repo.full_name}.git",
        "clone_url": f"{HTML}/{repo.full_name}.git",
        "svn_url": f"{HTML}/{repo.full_name}",
        "homepage": None,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": sum(1 for p in repo.pulls.values() if p.state == "open"),
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private" if repo.private else "public",
        "forks": 0,
        "open_issues": sum(1 for p in repo.pulls.values() if p.state == "open"),
        "watchers": 0,
        "default_branch": repo.default_branch,
    }
    if full:
        out.update(subscribers_count=0, network_count=0)
    return out


def app(store: Store, info: AppInfo) -> dict:
    return {
        "id": info.id,
        "slug": info.slug,
        "client_id": info.client_id,
        "node_id": node_id("Integration", info.id),
        "owner": user(store, info.owner),
        "name": info.name,
        "description": "shipcrew, emulated",
        "external_url": "https://example.com/shipcrew",
        "html_url": f"{HTML}/apps/{info.slug}",
        "created_at": info.created_at,
        "updated_at": info.created_at,
        "permissions": dict(info.permissions),
        "events": list(info.events),
        "installations_count": len(store.installations),
    }


def installation(store: Store, inst: Installation) -> dict:
    api = f"{store.base_url}/app/installations/{inst.id}"
    account = store.user(inst.account)
    return {
        "id": inst.id,
        "account": user(store, inst.account),
        "repository_selection": "selected",
        "access_tokens_url": f"{api}/access_tokens",
        "repositories_url": f"{store.base_url}/installation/repositories",
        "html_url": f"{HTML}/settings/installations/{inst.id}",
        "app_id": store.app.id,
        "app_slug": store.app.slug,
        "target_id": account.id,
        "target_type": account.type,
        "permissions": dict(store.app.permissions),
        "events": list(store.app.events),
        "created_at": inst.created_at,
        "updated_at": inst.created_at,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def git_commit(store: Store, repo: Repo, sha: str) -> dict:
    c = git.read_commit(repo.store, sha)
    api = f"{store.base_url}/repos/{repo.full_name}"
    return {
        "sha": sha,
        "node_id": node_id("Commit", sha),
        "url": f"{api}/git/commits/{sha}",
        "html_url": f"{HTML}/{repo.full_name}/commit/{sha}",
        "author": c["author"],
        "committer": c["committer"],
        "message": c["message"],
        "tree": {"sha": c["tree"], "url": f"{api}/git/trees/{c['tree']}"},
        "parents": [
            {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{HTML}/commit/{p}"}
            for p in c["parents"]
        ],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }


def rest_commit(store: Store, repo: Repo, sha: str, *, with_files: bool = False) -> dict:
    gc = git_commit(store, repo, sha)
    api = f"{store.base_url}/repos/{repo.full_name}"
    author = _login_for(store, gc["author"]["email"])
    out = {
        "url": f"{api}/commits/{sha}",
        "sha": sha,
        "node_id": gc["node_id"],
        "html_url": gc["html_url"],
        "comments_url": f"{api}/commits/{sha}/comments",
        "commit": {
            "url": gc["url"],
            "author": gc["author"],
            "committer": gc["committer"],
            "message": gc["message"],
            "tree": gc["tree"],
            "comment_count": 0,
            "verification": gc["verification"],
        },
        "author": user(store, author) if author else None,
        "committer": user(store, author) if author else None,
        "parents": gc["parents"],
    }
    if with_files:
        parent_tree = (
            git.read_commit(repo.store, gc["parents"][0]["sha"])["tree"] if gc["parents"] else None
        )
        files = [diff_entry(store, repo, f, sha) for f in
                 git.diff_trees(repo.store, parent_tree, gc["tree"]["sha"])]
        adds = sum(f["additions"] for f in files)
        dels = sum(f["deletions"] for f in files)
        out.update(files=files, stats={"additions": adds, "deletions": dels, "total": adds + dels})
    return out


def _login_for(store: Store, email: str) -> str | None:
    """Map a commit email back to an account, like GitHub does for noreply addresses."""
    local = email.split("@")[0]
    login = local.split("+", 1)[-1]
    return login if login in store.users else None


def email_for(store: Store, login: str) -> str:
    return f"{store.user(login).id}+{login}@users.noreply.github.com"


def diff_entry(store: Store, repo: Repo, entry: dict, ref_sha: str) -> dict:
    path = entry["filename"]
    base = f"{HTML}/{repo.full_name}"
    return {
        **entry,
        "blob_url": f"{base}/blob/{ref_sha}/{path}",
        "raw_url": f"{base}/raw/{ref_sha}/{path}",
        "contents_url": f"{store.base_url}/repos/{repo.full_name}/contents/{path}?ref={ref_sha}",
    }


def content_file(store: Store, repo: Repo, path: str, sha: str, data: bytes, ref: str) -> dict:
    api = f"{store.base_url}/repos/{repo.full_name}"
    encoded = base64.encodebytes(data).decode()
    html = f"{HTML}/{repo.full_name}/blob/{ref}/{path}"
    git_url = f"{api}/git/blobs/{sha}"
    url = f"{api}/contents/{path}?ref={ref}"
    return {
        "type": "file",
        "encoding": "base64",
        "size": len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": encoded,
        "sha": sha,
        "url": url,
        "git_url": git_url,
        "html_url": html,
        "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}",
        "_links": {"self": url, "git": git_url, "html": html},
    }
