"""Remote inputs (issue #17): a URL list on a loopback HTTP server gives one shard per file, read by our
own reader; change detection by ETag; dropped connections resumed; 404 named; Hub repos at a pinned
commit. Real servers on loopback (tests/remote_servers.py), real fsspec / huggingface_hub clients."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from pipeline.config import parse_config
from pipeline.runner import run_local
from pipeline.shards import file_sha256
from pipeline.sources import RemoteReadError, expand_inputs, iter_shard
from pipeline.document import Document, Reject

REPO = Path(__file__).resolve().parents[1]
C4 = REPO / "data" / "samples" / "en" / "c4_demo.jsonl"


def _files(n: int = 8, bad_in: int | None = 3) -> dict[str, bytes]:
    """The 300 real C4 pages split over `n` JSONL files; one bad line in file `bad_in` (line 2)."""
    lines = [x for x in C4.read_bytes().splitlines() if x.strip()]
    out = {}
    for i in range(n):
        chunk = lines[i::n]
        if i == bad_in:
            chunk = chunk[:1] + [b'{"text": "cut off'] + chunk[1:]
        out[f"rp/c4/part-{i:02d}.jsonl"] = b"\n".join(chunk) + b"\n"
    return out


def _config(url_list: str) -> object:
    return parse_config(
        {
            "sources": [{"name": "rp", "type": "redpajama", "subset": "c4", "lang": "en", "hub": {"path": "json", "data_files_from": url_list}}],
            "quality": {"enabled": False},
            "dedup": {"enabled": False},
        }
    )


def _hashes(out: Path) -> dict[str, str]:
    files = [*sorted((out / "data").rglob("*.parquet")), *sorted((out / "rejected").rglob("*.parquet")), out / "stats" / "stats.json"]
    return {p.relative_to(out).as_posix(): file_sha256(p) for p in files}


def _kept_texts(out: Path) -> list[str]:
    return sorted(t for p in (out / "data").rglob("*.parquet") for t in pq.read_table(p, columns=["text"]).column("text").to_pylist())


def test_url_list_shards_rejects_change_detection_and_removal(http_server, tmp_path: Path) -> None:
    urls = http_server.publish(_files())
    cfg = _config(f"{http_server.url}/urls.txt")
    shards = expand_inputs(cfg.sources[0])
    assert [s.location for s in shards] == urls and len(shards) == 8  # one shard (tag task) per listed file

    out = tmp_path / "out"
    first = run_local(cfg, out)
    assert first.skipped_shards == []
    read = first.stats.stage_total("read")
    assert (read.docs_in, read.docs_rejected) == (301, 1)  # 300 pages + one bad line, nothing else lost
    (rej,) = pq.read_table(next((out / "rejected" / "read").glob("*.parquet"))).to_pylist()
    assert (rej["file"], rej["line"], rej["drop_reason"]) == (urls[3], 2, "malformed")
    assert rej["drop_value"].startswith("invalid_json")
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    fp = manifest["inputs"][shards[0].name]
    assert fp["location"] == urls[0] and fp["etag"] and fp["size"] == len(_files()["rp/c4/part-00.jsonl"])

    # one served file changes: exactly its shard is re-tagged, and the output equals a clean run
    target = http_server.root / "rp/c4/part-05.jsonl"
    target.write_bytes(b"\n".join(target.read_bytes().splitlines()[:10]) + b"\n")
    second = run_local(cfg, out)
    assert len(second.skipped_shards) == 7 and shards[5].name not in second.skipped_shards
    clean = tmp_path / "clean"
    run_local(cfg, clean)
    assert _hashes(out) == _hashes(clean)

    # a file leaves the list: its documents leave the output
    gone = [x for x in target.read_bytes().splitlines() if x.strip()]
    (http_server.root / "urls.txt").write_text("".join(u + "\n" for u in urls if not u.endswith("part-05.jsonl")))
    third = run_local(cfg, out)
    assert len(third.skipped_shards) == 7
    texts = _kept_texts(out)
    assert not {orjson.loads(x)["text"] for x in gone} & set(texts)
    assert shards[5].name not in orjson.loads((out / "manifest.json").read_bytes())["inputs"]


def test_dropped_connection_is_resumed_without_duplicates(http_server, tmp_path: Path) -> None:
    import gzip

    data = b"".join(gzip.compress(v) for v in _files(2, bad_in=None).values())  # two gzip members
    (url,) = http_server.publish({"big.jsonl.gz": data}, url_list=None)
    src = parse_config({"sources": [{"name": "s", "type": "generic", "paths": [url]}]}).sources[0]
    (shard,) = expand_inputs(src)
    expected = [d.text for d in iter_shard(shard, src) if isinstance(d, Document)]
    assert len(expected) == 300

    http_server.clear_log()
    http_server.drop("/big.jsonl.gz", after_bytes=len(data) // 3, count=1)
    got = list(iter_shard(shard, src))
    assert [d.text for d in got if isinstance(d, Document)] == expected  # no duplicate, none missing
    assert not [r for r in got if isinstance(r, Reject)]
    gets = [e for e in http_server.log() if e["method"] == "GET" and e["path"] == "/big.jsonl.gz"]
    assert any(e.get("fault") for e in gets) and any(e.get("range") for e in gets[1:])  # dropped, then a ranged reconnect


def test_transient_5xx_retried_404_names_the_url(http_server) -> None:
    (url,) = http_server.publish({"a.jsonl": b'{"text": "hello world"}\n'}, url_list=None)
    src = parse_config({"sources": [{"name": "s", "type": "generic", "paths": [url]}]}).sources[0]
    (shard,) = expand_inputs(src)
    http_server.fail("/a.jsonl", 503, count=2)
    assert [d.text for d in iter_shard(shard, src)] == ["hello world"]
    missing = parse_config({"sources": [{"name": "s", "type": "generic", "paths": [url + ".nope"]}]}).sources[0]
    (shard,) = expand_inputs(missing)
    with pytest.raises(RemoteReadError, match=r"a\.jsonl\.nope: not found \(404\)"):
        list(iter_shard(shard, missing))


def test_hub_repo_files_at_a_pinned_commit(hub_server, tmp_path: Path) -> None:
    files = _files(3, bad_in=None)
    sha1 = hub_server.commit("user/pages", {"data/train-00000.jsonl": files["rp/c4/part-00.jsonl"], "data/train-00001.jsonl": files["rp/c4/part-01.jsonl"],
                                            "data/validation-00000.jsonl": files["rp/c4/part-02.jsonl"], "README.md": b"# pages\n"})
    cfg = parse_config({"sources": [{"name": "pages", "type": "generic", "lang": "en", "hub": {"path": "user/pages"}}], "dedup": {"enabled": False}, "quality": {"enabled": False}})
    shards = expand_inputs(cfg.sources[0])
    assert [s.location for s in shards] == [f"hf://datasets/user/pages@{sha1}/data/train-0000{i}.jsonl" for i in range(2)]
    out = tmp_path / "out"
    run_local(cfg, out)
    inputs = orjson.loads((out / "manifest.json").read_bytes())["inputs"]
    assert {v["commit"] for v in inputs.values()} == {sha1} and all(v["blob_id"] for v in inputs.values())
    card = (out / "README.md").read_text()
    assert "user/pages" in card and sha1 in card

    # a new commit that changes one file: only that file is re-tagged
    sha2 = hub_server.commit("user/pages", {"data/train-00001.jsonl": files["rp/c4/part-02.jsonl"]})
    assert sha2 != sha1
    again = run_local(cfg, out)
    assert again.skipped_shards == [shards[0].name]
    assert hub_server.unknown() == []
