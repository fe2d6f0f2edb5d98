"""expand_inputs / InputShard: deterministic, de-duplicated shards with safe names and unique id stems."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.config import SourceConfig
from pipeline.sources import InputShard, expand_inputs, iter_shard
from pipeline.sources.detect import file_stem, unique_stems


def _touch(path: Path, body: bytes = b'{"text": "x"}\n') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def test_globs_sorted_and_deduplicated(tmp_path: Path) -> None:
    for name in ("b.jsonl", "a.jsonl", "c.jsonl.gz", "skip.txt"):
        _touch(tmp_path / name)
    src = SourceConfig(
        name="web",
        type="generic",
        paths=[str(tmp_path / "*.jsonl"), str(tmp_path / "a.jsonl"), str(tmp_path / "*.jsonl*"), str(tmp_path / "." / "b.jsonl")],
    )
    shards = expand_inputs(src)
    assert [Path(s.location).name for s in shards] == ["a.jsonl", "b.jsonl", "c.jsonl.gz"]
    assert [s.index for s in shards] == [0, 1, 2]
    assert [s.name for s in shards] == ["web-a", "web-b", "web-c"]
    assert all(s.kind == "file" and s.source == "web" for s in shards)
    assert expand_inputs(src) == shards  # deterministic


def test_recursive_glob_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _touch(tmp_path / "d" / "x" / "one.jsonl")
    _touch(tmp_path / "d" / "two.jsonl")
    monkeypatch.chdir(tmp_path)
    shards = expand_inputs(SourceConfig(name="s", type="generic", paths=["d/**/*.jsonl"]))
    assert [s.location for s in shards] == [os.path.join("d", "two.jsonl"), os.path.join("d", "x", "one.jsonl")]


def test_missing_inputs_name_pattern_and_source(tmp_path: Path) -> None:
    pattern = str(tmp_path / "nothing-*.jsonl")
    with pytest.raises(FileNotFoundError, match=r"source 'web'.*nothing-\*\.jsonl.*matches no file"):
        expand_inputs(SourceConfig(name="web", type="generic", paths=[pattern]))
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        expand_inputs(SourceConfig(name="web", type="generic", paths=[str(tmp_path / "missing.jsonl")]))
    (tmp_path / "dir").mkdir()
    with pytest.raises(FileNotFoundError, match="is a directory"):
        expand_inputs(SourceConfig(name="web", type="generic", paths=[str(tmp_path / "dir")]))


def test_same_file_names_in_different_folders_get_distinct_id_stems(tmp_path: Path) -> None:
    a = _touch(tmp_path / "2023-06" / "0000" / "en_head.json.gz", b"")
    b = _touch(tmp_path / "2023-06" / "0001" / "en_head.json.gz", b"")
    c = _touch(tmp_path / "2023-06" / "0001" / "en_middle.json.gz", b"")
    shards = expand_inputs(SourceConfig(name="v2", type="redpajama_v2", paths=[str(tmp_path / "**" / "*.json.gz")]))
    assert [s.stem for s in shards] == ["0000/en_head", "0001/en_head", "en_middle"]
    assert [s.name[:-9] for s in shards[:2]] == ["v2-0000_en_head", "v2-0001_en_head"]  # "/" slugged: + hash
    assert shards[2].name == "v2-en_middle" and len({s.name for s in shards}) == 3
    assert [s.location for s in shards] == [str(a), str(b), str(c)]


def test_stems() -> None:
    assert file_stem("data/x.jsonl.gz") == "x"
    assert file_stem("https://host/a/c4-train.00000-of-01024.json.zst?download=1") == "c4-train.00000-of-01024"
    assert file_stem("poet.tang.0.json") == "poet.tang.0"
    assert file_stem("README") == "README"
    assert unique_stems(["a/x.jsonl", "b/x.jsonl", "a/y.jsonl"]) == ["a/x", "b/x", "y"]
    assert unique_stems(["d/x.jsonl", "d/x.json.gz"]) == ["x.jsonl", "x.json.gz"]
    assert unique_stems(["https://h/v1/docs/2023-06/0000/en_head.json.gz", "https://h/v1/docs/2023-14/0000/en_head.json.gz"]) == [
        "2023-06/0000/en_head",
        "2023-14/0000/en_head",
    ]


def test_shard_name_is_filesystem_safe() -> None:
    s = InputShard("src", 7, "/data/we ird:na*me?.jsonl", "file")
    assert s.name.startswith("src-we_ird_na_me-") and len(s.name) == len("src-we_ird_na_me-") + 8
    long = InputShard("src", 0, "x/" + "a" * 300 + ".jsonl", "file").name
    assert long.startswith("src-" + "a" * 80 + "-") and len(long) == 4 + 80 + 9
    # the name does not depend on the file's place in the listing
    assert InputShard("src", 3, "/d/a.jsonl", "file").name == InputShard("src", 0, "/d/a.jsonl", "file").name == "src-a"


def test_iter_shard_rejects_are_read_stage(tmp_path: Path) -> None:
    p = _touch(tmp_path / "m.jsonl", b'{"text": "ok"}\nnot json\n{"no": "text"}\n')
    src = SourceConfig(name="s", type="generic", paths=[str(p)])
    items = list(iter_shard(expand_inputs(src)[0], src))
    assert [type(x).__name__ for x in items] == ["Document", "Reject", "Reject"]
    assert {x.stage for x in items[1:]} == {"read"}  # type: ignore[union-attr]
