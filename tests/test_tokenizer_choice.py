"""Tokenizer choice (issue 20 item 1, issue 19 item 9): tiktoken names and local tokenizer.json files,
validated at config load; n_tokens in the user's unit; extra tokenizers staged; the report names it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from tokenizers import Tokenizer

from pipeline.config import ConfigError, parse_config
from pipeline.tokens import get_encoding
from pipeline.user_tokenizers import TokenizerError, get_tokenizer, resolve_tokenizer
from tests.trained_tokenizer import SAMPLES, train_tokenizer


def _config(tokenizer: object, key: str = "tokenizer") -> dict[str, object]:
    return {
        "sources": [
            {"name": "c4", "type": "redpajama", "subset": "c4", "lang": "en", "paths": [str(SAMPLES / "en" / "c4_demo.jsonl")]},
            {"name": "cmrc2018", "type": "squad", "lang": "zh", "paths": [str(SAMPLES / "zh" / "cmrc2018_dev.json")]},
        ],
        "tokens": {key: tokenizer},
    }


@pytest.fixture(scope="module")
def bpe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tokenizer(tmp_path_factory.mktemp("bpe") / "sample-bpe")


@pytest.fixture(scope="module")
def bpe_out(tmp_path_factory: pytest.TempPathFactory, bpe: Path) -> Path:
    from pipeline.runner import run_local

    out = tmp_path_factory.mktemp("bpe_out") / "out"
    run_local(parse_config(_config([str(bpe), "cl100k_base"])), out)
    return out


def test_n_tokens_is_the_trained_tokenizers_count(bpe: Path, bpe_out: Path) -> None:
    independent = Tokenizer.from_file(str(bpe))
    files = sorted((bpe_out / "data").rglob("*.parquet"))
    rows = 0
    for f in files:
        t = pq.read_table(f, columns=["text", "n_tokens"])
        for text, n in zip(t.column("text").to_pylist(), t.column("n_tokens").to_pylist()):
            assert n == len(independent.encode(text).ids)
            rows += 1
    assert rows > 1000  # c4 + cmrc2018 kept documents, both languages
    assert {f.parent.name for f in files} >= {"en", "zh"}


def test_extra_tokenizer_is_staged_as_its_own_column(bpe_out: Path) -> None:
    enc = get_encoding("cl100k_base")
    staged = sorted((bpe_out / ".staging" / "tagged").glob("*.parquet"))
    assert staged
    for f in staged:
        t = pq.read_table(f, columns=["text", "n_tokens", "n_tokens_cl100k_base"])
        texts = t.column("text").to_pylist()
        assert t.column("n_tokens_cl100k_base").to_pylist() == [len(enc.encode_ordinary(x)) for x in texts]
        assert t.column("n_tokens").to_pylist() != t.column("n_tokens_cl100k_base").to_pylist()


def test_report_and_card_name_the_tokenizer(bpe: Path, bpe_out: Path) -> None:
    report = (bpe_out / "stats" / "report.md").read_text(encoding="utf-8")
    ref = resolve_tokenizer(str(bpe))
    assert ref.label == "sample-bpe"
    assert f"tokens are those of the tokenizer `{ref.label}` (Hugging Face tokenizer.json `{bpe}`, sha256 `{ref.sha256[:12]}`)" in report
    assert "o200k" not in report


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("gpt2", "tokenizer 'gpt2': tiktoken encoding not available offline (its BPE file would be downloaded)"),
        ("llama-3", "tokenizer 'llama-3': unknown tokenizer name"),
        ("models/qwen/tokenizer.json", "tokenizer 'models/qwen/tokenizer.json': no such file or directory"),
    ],
)
def test_unknown_tokenizer_is_one_line_at_load_time(spec: str, expected: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        parse_config(_config(spec), origin="run.yaml")
    assert time.perf_counter() - start < 1.0
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"run.yaml: invalid config: tokens.tokenizer: {expected}; give a tiktoken encoding available offline (")
    assert "o200k_base" in msg and "cl100k_base" in msg and "tokenizer.json" in msg


def test_cli_unknown_tokenizer_exits_1_with_one_line(tmp_path: Path) -> None:
    from pipeline.cli import main

    start = time.perf_counter()
    res = CliRunner().invoke(main, ["shard", str(SAMPLES / "en" / "c4_demo.jsonl"), "--source-type", "redpajama", "--out", str(tmp_path / "o"), "--tokenizer", "gpt2"])
    assert time.perf_counter() - start < 1.0
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: command line: invalid config: tokens.tokenizer: tokenizer 'gpt2'")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("*.parquet"))


def test_encoding_is_a_deprecated_alias(bpe: Path) -> None:
    assert parse_config(_config("cl100k_base", key="encoding")).tokens.tokenizer == ["cl100k_base"]
    assert parse_config(_config("cl100k_base")).tokens.encoding == "cl100k_base"
    with pytest.raises(ConfigError, match="give `tokenizer` only"):
        parse_config({**_config("cl100k_base"), "tokens": {"tokenizer": "o200k_base", "encoding": "cl100k_base"}})


def test_directory_and_file_forms(bpe: Path, tmp_path: Path) -> None:
    by_dir, by_file = resolve_tokenizer(str(bpe.parent)), resolve_tokenizer(str(bpe))
    assert by_dir.sha256 == by_file.sha256 and by_dir.label == by_file.label == "sample-bpe"
    (tmp_path / "empty").mkdir()
    with pytest.raises(TokenizerError, match="the directory holds no tokenizer.json"):
        resolve_tokenizer(str(tmp_path / "empty"))
    broken = tmp_path / "broken" / "tokenizer.json"
    broken.parent.mkdir()
    broken.write_text('{"model": 3}', encoding="utf-8")
    with pytest.raises(TokenizerError, match="is not a Hugging Face tokenizer.json"):
        resolve_tokenizer(str(broken))
    tok = get_tokenizer(str(bpe))
    assert tok.eos_id == Tokenizer.from_file(str(bpe)).token_to_id("</s>")
    assert tok.bos_id == Tokenizer.from_file(str(bpe)).token_to_id("<s>")


def test_tag_key_follows_the_tokenizer_file(bpe: Path, tmp_path: Path) -> None:
    from pipeline.sources import InputShard
    from pipeline.tag import tag_key

    folder = tmp_path / "tok"
    shutil.copytree(bpe.parent, folder)
    cfg = parse_config(_config(str(folder)))
    shard = InputShard(source="c4", index=0, location=str(SAMPLES / "en" / "c4_demo.jsonl"), kind="file")
    before = tag_key(shard, cfg.sources[0], cfg)
    assert tag_key(shard, cfg.sources[0], parse_config(_config(str(folder)))) == before
    train_tokenizer(folder, vocab_size=2000)  # same path, another tokenizer
    assert tag_key(shard, cfg.sources[0], parse_config(_config(str(folder)))) != before


def test_report_compares_the_tokenizers_per_language(bpe: Path, bpe_out: Path) -> None:
    import orjson

    enc = get_encoding("cl100k_base")
    independent = Tokenizer.from_file(str(bpe))
    stats = orjson.loads((bpe_out / "stats" / "stats.json").read_bytes())
    report = (bpe_out / "stats" / "report.md").read_text(encoding="utf-8")
    assert "## Tokenizers compared" in report or "Tokenizers compared" in report
    for lang in ("en", "zh"):
        texts = [t for f in sorted((bpe_out / "data").rglob(f"{lang}/*.parquet")) for t in pq.read_table(f, columns=["text"]).column("text").to_pylist()]
        n_bytes = sum(len(t.encode("utf-8")) for t in texts)
        ours = sum(len(independent.encode(t).ids) for t in texts)
        theirs = sum(len(enc.encode_ordinary(t)) for t in texts)
        assert stats["tokenizers"]["by_lang"][lang] == {"n_tokens_cl100k_base": theirs}
        row = f"| `{lang}` | {n_bytes:,} | {ours:,} | {n_bytes / ours:.4f} | {theirs:,} | {n_bytes / theirs:.4f} |"
        assert row in report, row
