"""Git data as GitHub's REST API returns it: refs, commits, trees, blobs, contents, branches, comparisons."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from localhub.gitrepo import CommitInfo, FileChange, Signature, TreeEntry
from localhub.rest.render.common import node_id, simple_user

if TYPE_CHECKING:
    from localhub.hub import Hub


def _api(hub: Hub) -> str:
    return f"{hub.base_url}/repos/{hub.state.repo.full_name}"


def _html(hub: Hub) -> str:
    return f"{hub.base_url}/{hub.state.repo.full_name}"


def _unverified() -> dict[str, Any]:
    return {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None}


def _signature(sig: Signature) -> dict[str, str]:
    return {"name": sig.name, "email": sig.email, "date": sig.date}


def git_ref(hub: Hub, ref: str, sha: str) -> dict[str, Any]:
    kind = hub.git.object_type(sha) or "commit"
    return {
        "ref": ref,
        "node_id": node_id("Ref", ref),
        "url": f"{_api(hub)}/git/{ref}",
        "object": {"sha": sha, "type": kind, "url": f"{_api(hub)}/git/{kind}s/{sha}"},
    }


def git_commit(hub: Hub, info: CommitInfo) -> dict[str, Any]:
    return {
        "sha": info.sha,
        "node_id": node_id("Commit", info.sha),
        "url": f"{_api(hub)}/git/commits/{info.sha}",
        "html_url": f"{_html(hub)}/commit/{info.sha}",
        "author": _signature(info.author),
        "committer": _signature(info.committer),
        "message": info.message,
        "tree": {"sha": info.tree, "url": f"{_api(hub)}/git/trees/{info.tree}"},
        "parents": [
            {"sha": p, "url": f"{_api(hub)}/git/commits/{p}", "html_url": f"{_html(hub)}/commit/{p}"}
            for p in info.parents
        ],
        "verification": _unverified(),
    }


def tree_entry(hub: Hub, entry: TreeEntry) -> dict[str, Any]:
    kind = "blobs" if entry.type == "blob" else "trees"
    out: dict[str, Any] = {
        "path": entry.path,
        "mode": entry.mode,
        "type": entry.type,
        "sha": entry.sha,
        "url": f"{_api(hub)}/git/{kind}/{entry.sha}",
    }
    if entry.type == "blob":
        out["size"] = entry.size or 0
    return out


def git_tree(hub: Hub, sha: str, entries: list[TreeEntry]) -> dict[str, Any]:
    return {
        "sha": sha,
        "url": f"{_api(hub)}/git/trees/{sha}",
        "truncated": False,
        "tree": [tree_entry(hub, e) for e in entries],
    }


def blob(hub: Hub, sha: str, data: bytes) -> dict[str, Any]:
    return {
        "sha": sha,
        "node_id": node_id("Blob", sha),
        "url": f"{_api(hub)}/git/blobs/{sha}",
        "size": len(data),
        "content": base64.encodebytes(data).decode(),
        "encoding": "base64",
    }


def _login_for(hub: Hub, sig: Signature) -> str | None:
    for user in hub.state.users.values():
        if user.email == sig.email or f"{user.id}+{user.login}@users.noreply.localhub" == sig.email:
            return user.login
    return None


def commit(hub: Hub, info: CommitInfo, files: list[FileChange] | None = None) -> dict[str, Any]:
    """The REST commit (repos/get-commit): git data plus the GitHub users behind the author and committer."""
    author, committer = _login_for(hub, info.author), _login_for(hub, info.committer)
    out: dict[str, Any] = {
        "url": f"{_api(hub)}/commits/{info.sha}",
        "sha": info.sha,
        "node_id": node_id("Commit", info.sha),
        "html_url": f"{_html(hub)}/commit/{info.sha}",
        "comments_url": f"{_api(hub)}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{_api(hub)}/git/commits/{info.sha}",
            "author": _signature(info.author),
            "committer": _signature(info.committer),
            "message": info.message,
            "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{_api(hub)}/git/trees/{info.tree}"},
            "verification": _unverified(),
        },
        "author": simple_user(hub, author) if author else None,
        "committer": simple_user(hub, committer) if committer else None,
        "parents": [
            {"sha": p, "url": f"{_api(hub)}/commits/{p}", "html_url": f"{_html(hub)}/commit/{p}"} for p in info.parents
        ],
    }
    if files is not None:
        adds, dels = sum(f.additions for f in files), sum(f.deletions for f in files)
        out["stats"] = {"additions": adds, "deletions": dels, "total": adds + dels}
        out["files"] = [diff_entry(hub, f, info.sha) for f in files]
    return out


def diff_entry(hub: Hub, change: FileChange, ref: str) -> dict[str, Any]:
    out = {
        "sha": change.blob_sha,
        "filename": change.path,
        "status": change.status,
        "additions": change.additions,
        "deletions": change.deletions,
        "changes": change.additions + change.deletions,
        "blob_url": f"{_html(hub)}/blob/{ref}/{change.path}",
        "raw_url": f"{_html(hub)}/raw/{ref}/{change.path}",
        "contents_url": f"{_api(hub)}/contents/{change.path}?ref={ref}",
    }
    if change.patch:
        out["patch"] = change.patch
    return out


def branch(hub: Hub, name: str, sha: str) -> dict[str, Any]:
    api = f"{_api(hub)}/branches/{name}"
    return {
        "name": name,
        "commit": commit(hub, hub.git.commit(sha)),
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{api}/protection",
        "_links": {"self": api, "html": f"{_html(hub)}/tree/{name}"},
    }


def content_file(hub: Hub, path: str, entry: TreeEntry, ref: str, with_content: bool = True) -> dict[str, Any]:
    api = f"{_api(hub)}/contents/{path}?ref={ref}"
    git_url = f"{_api(hub)}/git/{'blobs' if entry.type == 'blob' else 'trees'}/{entry.sha}"
    html = f"{_html(hub)}/{'blob' if entry.type == 'blob' else 'tree'}/{ref}/{path}"
    out: dict[str, Any] = {
        "type": "file" if entry.type == "blob" else "dir",
        "size": entry.size or 0,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": entry.sha,
        "url": api,
        "git_url": git_url,
        "html_url": html,
        "download_url": f"{_html(hub)}/raw/{ref}/{path}" if entry.type == "blob" else None,
        "_links": {"self": api, "git": git_url, "html": html},
    }
    if with_content and entry.type == "blob":
        out["content"] = base64.encodebytes(hub.git.read_blob(entry.sha)).decode()
        out["encoding"] = "base64"
    return out


def file_commit(hub: Hub, path: str, entry: TreeEntry | None, info: CommitInfo, ref: str) -> dict[str, Any]:
    content = content_file(hub, path, entry, ref, with_content=False) if entry else None
    return {"content": content, "commit": git_commit(hub, info)}


def comparison(hub: Hub, base: str, head: str) -> dict[str, Any]:
    git = hub.git
    merge_base = git.merge_base(base, head) or base
    ahead = git.log(f"{merge_base}..{head}")
    behind = git.log(f"{merge_base}..{base}")
    status = (
        "identical" if not ahead and not behind else "ahead" if not behind else "behind" if not ahead else "diverged"
    )
    api = f"{_api(hub)}/compare/{base}...{head}"
    html = f"{_html(hub)}/compare/{base}...{head}"
    return {
        "url": api,
        "html_url": html,
        "permalink_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "base_commit": commit(hub, git.commit(base)),
        "merge_base_commit": commit(hub, git.commit(merge_base)),
        "status": status,
        "ahead_by": len(ahead),
        "behind_by": len(behind),
        "total_commits": len(ahead),
        "commits": [commit(hub, git.commit(sha)) for sha in reversed(ahead)],
        "files": [diff_entry(hub, f, head) for f in git.changes(merge_base, head)],
    }
