"""`hub:` sources with explicit data files or a URL list: one input shard per file, each read by our
own line reader (line numbers, per-line rejects), exercised offline on local files. Remote files and
Hub repos: tests/test_remote_inputs.py."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from srchelpers import FIXTURES, docs, read_source, rejects

from pipeline.config import HubSpec, SourceConfig
from pipeline.sources import HubReadError, expand_inputs
from pipeline.sources.hub import hub_data_files, read_listing

pytestmark = pytest.mark.usefixtures("hf_offline")


def _local_jsonl(tmp_path: Path, name: str, texts: list[str]) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"".join(orjson.dumps({"text": t, "meta": {"language": "en"}}) + b"\n" for t in texts))
    return p


def test_json_builder_with_data_files(tmp_path: Path) -> None:
    a = _local_jsonl(tmp_path, "a/part.jsonl", ["one", "two"])
    b = _local_jsonl(tmp_path, "b/part.jsonl", ["three"])
    items = read_source(type="redpajama", hub=HubSpec(path="json", data_files=[str(a), str(b)], split="validation"))
    got = docs(items)
    assert [d.text for d in got] == ["one", "two", "three"]
    assert [(d.file, d.record, d.line) for d in got] == [(str(a), 0, 1), (str(a), 1, 2), (str(b), 0, 1)]
    assert [d.id for d in got] == ["src/a/part/0", "src/a/part/1", "src/b/part/0"]  # same names: folder kept
    assert {d.lang for d in got} == {"en"}


def test_parquet_builder_oasst_flat_table() -> None:
    hub = read_source(type="oasst", hub=HubSpec(path="parquet", data_files=[str(FIXTURES / "oasst_flat.parquet")]))
    local = read_source(type="oasst", paths=[str(FIXTURES / "oasst_flat.parquet")])
    assert [(d.id, d.text, d.meta) for d in docs(hub)] == [(d.id, d.text, d.meta) for d in docs(local)]
    assert [(r.id, r.drop_reason, r.drop_value) for r in rejects(hub)] == [(r.id, r.drop_reason, r.drop_value) for r in rejects(local)]
    assert len(docs(hub)) == 51


def test_data_files_from_listing_filter_and_limit(tmp_path: Path) -> None:
    files = [_local_jsonl(tmp_path, f"rp/{sub}/{sub}_{i}.jsonl", [f"{sub} {i} {j}" for j in range(3)]) for sub in ("arxiv", "book") for i in range(2)]
    listing = tmp_path / "urls.txt"
    listing.write_text("# RedPajama-style URL list\n\n" + "\n".join(str(f) for f in files) + "\n")
    spec = HubSpec(path="json", data_files_from=str(listing), data_files_filter="/arxiv/")
    assert hub_data_files(spec) == [str(f) for f in files[:2]]
    items = docs(read_source(type="redpajama", hub=spec))
    assert [d.text for d in items] == [f"arxiv {i} {j}" for i in range(2) for j in range(3)]
    assert {d.subset for d in items} == {"arxiv"}  # from the data file's path
    # the limit applies per file: each file is its own shard (task)
    limited = docs(read_source(type="redpajama", hub=spec.model_copy(update={"limit": 2})))
    assert [d.text for d in limited] == ["arxiv 0 0", "arxiv 0 1", "arxiv 1 0", "arxiv 1 1"]
    shards = expand_inputs(SourceConfig(name="rp", type="redpajama", hub=spec))
    assert [s.location for s in shards] == [str(f) for f in files[:2]]


def test_listing_prefix_suffix(tmp_path: Path) -> None:
    _local_jsonl(tmp_path, "docs/2023-06/0000/en_head.jsonl", ["x"])
    _local_jsonl(tmp_path, "docs/2023-06/0001/en_head.jsonl", ["y"])
    listing = tmp_path / "listing.txt"
    listing.write_text("2023-06/0000/en_head\n2023-06/0001/en_head\n")
    spec = HubSpec(path="json", data_files_from=str(listing), data_files_prefix=str(tmp_path / "docs") + "/", data_files_suffix=".jsonl")
    got = docs(read_source(type="generic", hub=spec))
    assert [(d.text, d.id) for d in got] == [("x", "src/0000/en_head/0"), ("y", "src/0001/en_head/0")]


def test_errors_name_the_file_and_bad_lines_are_rejects(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.jsonl"):
        read_source(type="generic", hub=HubSpec(path="json", data_files=[str(tmp_path / "missing.jsonl")]))
    with pytest.raises(HubReadError, match="urls.txt"):
        read_listing(str(tmp_path / "urls.txt"))
    with pytest.raises(HubReadError, match="no data file contains"):
        hub_data_files(HubSpec(path="json", data_files=["a.jsonl"], data_files_filter="/zzz/"))
    # `datasets` failed a whole file on one bad line; our reader rejects that line and keeps the rest
    hub = read_source(type="generic", hub=HubSpec(path="json", data_files=[str(FIXTURES / "malformed.jsonl")]))
    local = read_source(type="generic", paths=[str(FIXTURES / "malformed.jsonl")])
    assert [(r.line, r.drop_value) for r in rejects(hub)] == [(r.line, r.drop_value) for r in rejects(local)]
    assert len(docs(hub)) == len(docs(local)) > 0
