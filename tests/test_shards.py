"""Shard writer: rotation by size, atomic files, deterministic bytes, Hub names after packing."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import OutputConfig
from pipeline.layout import Layout
from pipeline.shards import MB, RotatingWriter, describe, file_sha256, publish

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string())])


def _table(start: int, n: int, width: int = 2000) -> pa.Table:
    import random

    rnd = random.Random(start)
    texts = ["".join(rnd.choice("abcdefghij klmnop") for _ in range(width)) for _ in range(n)]
    return pa.table({"id": [f"d{i}" for i in range(start, start + n)], "text": texts}, schema=SCHEMA)


def test_rotation_by_size_and_no_temp_files(tmp_path: Path) -> None:
    cfg = OutputConfig(shard_size_mb=0.2, row_group_mb=0.05)
    w = RotatingWriter(tmp_path / "part", SCHEMA, cfg)
    for k in range(10):
        w.write(_table(k * 100, 100))
    paths = w.close()
    assert len(paths) > 1
    assert [p.name for p in paths] == [f"part-{i:05d}.parquet" for i in range(len(paths))]
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in paths) == 1000
    assert all(pq.ParquetFile(p).metadata.num_row_groups >= 1 for p in paths)
    # every closed file but the last reached the size limit
    assert all(p.stat().st_size >= 0.2 * MB for p in paths[:-1])
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    ids = pa.concat_tables([pq.read_table(p) for p in paths]).column("id").to_pylist()
    assert ids == [f"d{i}" for i in range(1000)]


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    cfg = OutputConfig(shard_size_mb=10, row_group_mb=0.01)
    w = RotatingWriter(tmp_path / "part", SCHEMA, cfg)
    w.write(_table(0, 50))
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_same_input_same_bytes(tmp_path: Path) -> None:
    cfg = OutputConfig()
    digests = []
    for run in ("a", "b"):
        w = RotatingWriter(tmp_path / run / "part", SCHEMA, cfg)
        w.write(_table(0, 300))
        (p,) = w.close()
        digests.append(file_sha256(p))
    assert digests[0] == digests[1]


def test_publish_packs_small_parts_and_names_them_by_content(tmp_path: Path) -> None:
    cfg = OutputConfig(shard_size_mb=0.5)
    parts = []
    for k in range(6):
        w = RotatingWriter(tmp_path / "staging" / f"s{k}", SCHEMA, cfg)
        w.write(_table(k * 40, 40))
        parts += [str(p) for p in w.close()]
    dest = tmp_path / "data" / "src" / "en"
    dest.mkdir(parents=True)
    (dest / "train-00000-of-00009-000000000000.parquet").write_bytes(b"an earlier run's file")
    store = Layout(tmp_path).out
    files = publish(store, parts, store, str(dest), "train", SCHEMA, cfg)
    n = len(files)
    assert 1 <= n < 6
    names = [Path(f).name for f in files]
    assert [x[: len("train-00000-of-00000")] for x in names] == [f"train-{i:05d}-of-{n:05d}" for i in range(n)]
    # the name carries the file's own sha256, so a new run never overwrites a file the old manifest names
    assert all(name == f"train-{i:05d}-of-{n:05d}-{file_sha256(f)[:12]}.parquet" for i, (name, f) in enumerate(zip(names, files)))
    # an earlier run's file stays until the new manifest is committed (finish removes it after that)
    assert (dest / "train-00000-of-00009-000000000000.parquet").exists()
    assert not [p for p in parts if Path(p).exists()]  # parts were moved or packed
    ids = pa.concat_tables([pq.read_table(f) for f in files]).column("id").to_pylist()
    assert ids == [f"d{i}" for i in range(240)]
    entry = describe(files[0], tmp_path)
    assert entry.path.startswith("data/src/en/train-00000-of-")
    assert entry.sha256 == file_sha256(files[0])
