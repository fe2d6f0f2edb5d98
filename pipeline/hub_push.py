"""Publishing OUT to the Hugging Face Hub: the card regenerated, then the card, manifest.json, stats/
and exactly the manifest's data/ and rejected/ files in one commit on top of a known head.

Apart from the card (pipeline/card.py renders it; this module only uploads), nothing here decides
what OUT holds: the manifest does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard

from pipeline.card import CARD_NAME, read_inputs, write_card
from pipeline.layout import as_layout
from pipeline.shards import file_sha256


class PushError(RuntimeError):
    """The push cannot start or was refused (no token, offline mode, files that differ from the manifest)."""


PUSHED_DIRS = ("data/", "rejected/", "stats/")


def upload_paths(out: Path, manifest: dict[str, Any]) -> list[str]:
    """Paths (relative to OUT) a push uploads: the card, manifest.json, stats/ and exactly the
    manifest's files. Nothing from .staging/, no temporary or hidden file, no stray Parquet file
    that the manifest does not list. Fails, naming the file, when a listed file is missing or has
    another size than the manifest says."""
    manifest_path = out / "manifest.json"
    paths = [CARD_NAME, "manifest.json"]
    stats_dir = out / "stats"
    paths += sorted(
        p.relative_to(out).as_posix()
        for p in stats_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
    )
    for i, f in enumerate(manifest.get("files", [])):
        rel = str(f["path"])
        if not rel.startswith(("data/", "rejected/")) or ".." in rel.split("/"):
            raise PushError(f"{manifest_path}: `files.{i}.path` {rel!r} is outside data/ and rejected/")
        path = out / rel
        if not path.is_file():
            raise PushError(f"{path}: listed in {manifest_path} but missing; rerun the pipeline (or `curate refilter`) before pushing")
        size = path.stat().st_size
        if size != f.get("bytes"):
            raise PushError(f"{path}: {size} bytes but {manifest_path} says {f.get('bytes')}: the file changed after the run")
        if f.get("sha256") and file_sha256(path) != f["sha256"]:  # hashing costs far less than the upload
            raise PushError(f"{path}: its sha256 differs from {manifest_path}: the file changed after the run")
        paths.append(rel)
    return paths


def push_to_hub(
    out: Path,
    repo_id: str,
    private: bool = False,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
) -> Any:
    """Regenerates the card, creates the dataset repo if needed and uploads the card, manifest.json,
    stats/, data/ and rejected/ in ONE commit, deleting files under data/, rejected/ and stats/ that an
    earlier push left and this OUT does not have. Returns huggingface_hub's CommitInfo.

    `token`: None uses HF_TOKEN or the token saved by `hf auth login`. `private`: create the repo as
    private; an existing repo that is public stops the push (its visibility is not changed here).
    The commit goes through `HfApi.create_commit`, not `upload_folder`: with hf_xet installed,
    `upload_folder` splits large folders into several commits."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants, get_token

    lay = as_layout(out)
    if not lay.out.local:
        raise PushError(f"{lay.out.display(lay.out.root)}: push from a local copy of OUT (e.g. `aws s3 sync`); pushing straight from a store is not supported")
    out = lay.root
    if constants.HF_HUB_OFFLINE:
        raise PushError("HF_HUB_OFFLINE is set (the Makefile sets it for its targets): unset it to push to the Hub")
    token = token or get_token()
    if not token:
        raise PushError("no Hugging Face token: set HF_TOKEN, run `hf auth login`, or pass --token")
    card_path = write_card(out)
    inputs = read_inputs(out)
    paths = upload_paths(out, inputs.manifest)

    api = HfApi(endpoint=constants.ENDPOINT, token=token)  # not the module-level client: its endpoint is fixed at import
    try:
        # validate the header first: a card the Hub refuses must not leave an empty new repo behind
        DatasetCard.load(card_path).validate(repo_type="dataset")
        api.create_repo(repo_id, repo_type="dataset", private=True if private else None, exist_ok=True)
        if private and not api.repo_info(repo_id, repo_type="dataset").private:
            raise PushError(
                f"{repo_id}: the repo exists and is public; --private does not change an existing repo's visibility "
                "(change it on the Hub, or push to a new name)"
            )
        keep = set(paths)
        # list the files of one known head and commit on top of exactly that head: a push by someone
        # else in between makes the Hub refuse this commit instead of leaving their shards in place
        head = api.repo_info(repo_id, repo_type="dataset", revision=revision).sha
        remote = api.list_repo_files(repo_id, repo_type="dataset", revision=head)
        operations: list[Any] = [CommitOperationDelete(path_in_repo=p) for p in sorted(remote) if p.startswith(PUSHED_DIRS) and p not in keep]
        operations += [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(out / p)) for p in paths]
        total = inputs.stats["sizes"]["total"]
        message = commit_message or (
            f"curate: {total['docs']} documents from {len(inputs.sources)} sources"
            + (f" (config {inputs.manifest['config_hash'][:12]})" if inputs.manifest.get("config_hash") else "")
        )
        return api.create_commit(
            repo_id, operations, commit_message=message, repo_type="dataset", revision=revision, parent_commit=head
        )
    except _transport_errors() as e:
        raise PushError(f"{constants.ENDPOINT}: cannot reach the Hub ({type(e).__name__}: {e})") from e


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's connection errors (huggingface_hub 1.x/2.x talks through httpx2); HTTP status
    errors are huggingface_hub's own (OSError subclasses) and pass through."""
    try:
        import httpx2
    except ImportError:
        return ()
    return (httpx2.RequestError,)
