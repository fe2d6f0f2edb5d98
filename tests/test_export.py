"""`curate export` (issue 20 item 3): Megatron MMIDIDX and .npy output read back by a reader written
here from the published layout, deterministic, resumable, with a manifest."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from tokenizers import Tokenizer

from pipeline.config import parse_config
from pipeline.export import ExportError, ExportOptions, run_export
from tests.trained_tokenizer import SAMPLES, train_tokenizer

#: numpy dtype per Megatron-core DType code (indexed_dataset.py)
_CODES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32, 8: np.uint16}


def read_mmidx(prefix: Path) -> list[np.ndarray]:
    """An independent MMIDIDX reader: header magic b"MMIDIDX\\x00\\x00", version <Q == 1, dtype code
    <B, sequence count <Q, document count <Q, then sizes int32[seq], pointers int64[seq] (byte
    offsets into .bin), document indices int64[doc]; one list of token ids per document."""
    idx = prefix.with_name(prefix.name + ".idx").read_bytes()
    assert idx[:9] == b"MMIDIDX\x00\x00"
    (version,) = struct.unpack_from("<Q", idx, 9)
    assert version == 1
    (code,) = struct.unpack_from("<B", idx, 17)
    seq_count, doc_count = struct.unpack_from("<QQ", idx, 18)
    off = 34
    sizes = np.frombuffer(idx, np.int32, seq_count, off)
    off += 4 * seq_count
    pointers = np.frombuffer(idx, np.int64, seq_count, off)
    off += 8 * seq_count
    doc_idx = np.frombuffer(idx, np.int64, doc_count, off)
    off += 8 * doc_count
    assert off == len(idx)
    dtype = np.dtype(_CODES[code])
    data = np.frombuffer(prefix.with_name(prefix.name + ".bin").read_bytes(), dtype)
    seqs = [data[p // dtype.itemsize : p // dtype.itemsize + n] for p, n in zip(pointers, sizes)]
    return [np.concatenate(seqs[a:b]) for a, b in zip(doc_idx[:-1], doc_idx[1:])]


@pytest.fixture(scope="module")
def bpe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tokenizer(tmp_path_factory.mktemp("bpe") / "sample-bpe")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.runner import run_local

    out = tmp_path_factory.mktemp("export_out") / "out"
    cfg = {
        "sources": [
            {"name": "c4", "type": "redpajama", "subset": "c4", "lang": "en", "paths": [str(SAMPLES / "en" / "c4_demo.jsonl")]},
            {"name": "tang", "type": "chinese_poetry", "lang": "zh", "paths": [str(SAMPLES / "zh" / "poet.tang.0.json")]},
        ]
    }
    run_local(parse_config(cfg), out)
    return out


def _kept(out: Path) -> dict[str, list[str]]:
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    return {
        f["path"]: pq.read_table(out / f["path"], columns=["text"]).column("text").to_pylist()
        for f in manifest["files"]
        if f["path"].startswith("data/")
    }


def test_megatron_round_trip_is_ids_plus_eos(out: Path, bpe: Path, tmp_path: Path) -> None:
    manifest = run_export(out, tmp_path / "tok", ExportOptions(str(bpe), "megatron"))
    tok = Tokenizer.from_file(str(bpe))
    eos = tok.token_to_id("</s>")
    assert manifest["dtype"] == "uint16" and manifest["eos_id"] == eos and manifest["bos_id"] is None
    kept = _kept(out)
    n_docs = 0
    for rel, texts in kept.items():
        stem = rel.removeprefix("data/").removesuffix(".parquet")
        docs = read_mmidx(tmp_path / "tok" / stem)
        assert len(docs) == len(texts)
        for text, ids in zip(texts, docs):
            assert ids.tolist() == tok.encode(text).ids + [eos]
        n_docs += len(docs)
    totals = orjson.loads((out / "manifest.json").read_bytes())["totals"]
    assert n_docs == manifest["totals"]["documents"] == totals["data_rows"]
    for shard in manifest["shards"]:
        for f in shard["files"]:
            data = (tmp_path / "tok" / f["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]


def test_npy_layout_bos_and_int32_for_large_vocab(out: Path, tmp_path: Path) -> None:
    from pipeline.tokens import get_encoding

    manifest = run_export(out, tmp_path / "npy", ExportOptions("o200k_base", "npy"))
    enc = get_encoding("o200k_base")
    assert manifest["dtype"] == "int32" and manifest["eos_id"] == enc.eot_token
    for rel, texts in _kept(out).items():
        stem = rel.removeprefix("data/").removesuffix(".parquet")
        tokens = np.load(tmp_path / "npy" / f"{stem}.tokens.npy")
        offsets = np.load(tmp_path / "npy" / f"{stem}.offsets.npy")
        assert tokens.dtype == np.int32 and offsets.dtype == np.int64
        assert len(offsets) == len(texts) + 1 and offsets[0] == 0 and offsets[-1] == len(tokens)
        for i, text in enumerate(texts):
            assert tokens[offsets[i] : offsets[i + 1]].tolist() == enc.encode_ordinary(text) + [enc.eot_token]


def _stem(out: Path, prefix: str) -> str:
    """The final shard stem under data/ (names carry a content hash): e.g. c4/en/train-00000-of-00001-<hash>."""
    (rel,) = [k for k in _kept(out) if k.startswith(f"data/{prefix}/")]
    return rel.removeprefix("data/").removesuffix(".parquet")


def test_bos_is_prepended_when_asked(out: Path, bpe: Path, tmp_path: Path) -> None:
    run_export(out, tmp_path / "bos", ExportOptions(str(bpe), "megatron", bos=True))
    tok = Tokenizer.from_file(str(bpe))
    texts = _kept(out)[f"data/{_stem(out, 'c4/en')}.parquet"]
    docs = read_mmidx(tmp_path / "bos" / _stem(out, "c4/en"))
    assert docs[0].tolist() == [tok.token_to_id("<s>")] + tok.encode(texts[0]).ids + [tok.token_to_id("</s>")]
    with pytest.raises(ExportError, match="defines no BOS token"):
        run_export(out, tmp_path / "nobos", ExportOptions("o200k_base", "megatron", bos=True))


def test_deterministic_and_resumable(out: Path, bpe: Path, tmp_path: Path) -> None:
    a = run_export(out, tmp_path / "a", ExportOptions(str(bpe), "megatron"))
    b = run_export(out, tmp_path / "b", ExportOptions(str(bpe), "megatron"))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file() and ".export" not in p.parts)
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file() and ".export" not in p.parts)
    for rel in files:
        if rel.name != "manifest.json":
            assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    assert a["shards"] == b["shards"]
    # a kill after one shard: its files are gone; the rerun redoes that shard only, same bytes
    lost = tmp_path / "a" / f"{_stem(out, 'tang/zh')}.bin"
    keep = tmp_path / "a" / f"{_stem(out, 'c4/en')}.bin"
    lost.unlink()
    mtime = keep.stat().st_mtime_ns
    logs: list[str] = []
    again = run_export(out, tmp_path / "a", ExportOptions(str(bpe), "megatron"), log=logs.append)
    assert keep.stat().st_mtime_ns == mtime and lost.read_bytes() == (tmp_path / "b" / lost.relative_to(tmp_path / "a")).read_bytes()
    assert sorted(logs) == [
        f"data/{_stem(out, 'c4/en')}.parquet: skipped (exported already): "
        f"{a['shards'][0]['documents']} documents, {a['shards'][0]['tokens']} tokens",
        f"data/{_stem(out, 'tang/zh')}.parquet: exported: {a['shards'][1]['documents']} documents, {a['shards'][1]['tokens']} tokens",
    ]
    assert again["shards"] == a["shards"]
    # another format into the same folder replaces the old files
    mine = tmp_path / "a" / "c4" / "my-own.npy"  # not the export's: never removed
    np.save(mine, np.arange(3))
    run_export(out, tmp_path / "a", ExportOptions(str(bpe), "npy"))
    assert not list((tmp_path / "a").rglob("*.bin")) and len(list((tmp_path / "a").rglob("*.npy"))) == 5
    assert np.load(mine).tolist() == [0, 1, 2]


def test_cli_export_and_errors(out: Path, bpe: Path, tmp_path: Path) -> None:
    from pipeline.cli import main

    res = CliRunner().invoke(main, ["export", str(out), "--tokenizer", str(bpe), "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    m = orjson.loads((tmp_path / "cli" / "manifest.json").read_bytes())
    assert res.output.strip() == f"wrote {tmp_path / 'cli'} (2 shards, {m['totals']['documents']:,} documents, {m['totals']['tokens']:,} tokens, uint16, sample-bpe)"
    res = CliRunner().invoke(main, ["export", str(tmp_path / "nothing"), "--tokenizer", "o200k_base", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1
    assert res.output.strip() == f"Error: {tmp_path / 'nothing'}/manifest.json: not found; give the OUT of a finished `curate run` or `curate shard`"
    res = CliRunner().invoke(main, ["export", str(out), "--tokenizer", "gpt2", "--out", str(tmp_path / "y")])
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1 and "tokenizer 'gpt2'" in res.output
    res = CliRunner().invoke(main, ["export", str(out), "--tokenizer", str(bpe), "--eos", "<nope>", "--out", str(tmp_path / "z")])
    assert res.exit_code == 1 and "--eos '<nope>': not a special token" in res.output


def test_flow_runs_one_task_per_shard(out: Path, bpe: Path, tmp_path: Path) -> None:
    from flows.export import export_flow

    direct = run_export(out, tmp_path / "direct", ExportOptions(str(bpe), "megatron"))
    flowed = export_flow(str(out), str(tmp_path / "flow"), ExportOptions(str(bpe), "megatron"))
    assert [s["files"] for s in flowed["shards"]] == [s["files"] for s in direct["shards"]]
