"""The `curate` command: one-off shards with bad input, and --help that explains every option."""

from __future__ import annotations

import gzip
from pathlib import Path

import click
import orjson
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from outfiles import only_part

GOOD = [
    "The quick brown fox jumps over the lazy dog.",
    "中文标点，应该原样保留。对吗？",
    "A third good line, after the bad ones.",
]


def _bad_jsonl(path: Path) -> None:
    lines = [
        orjson.dumps({"text": GOOD[0]}),  # 1 good
        b'{"text": "broken',  # 2 invalid JSON
        orjson.dumps({"body": "no text field"}),  # 3 missing text
        orjson.dumps({"text": 42}),  # 4 wrong type
        b'{"text": "bad \xff\xfe utf-8"}',  # 5 invalid UTF-8
        b'{"text": "nul \x00 byte"}',  # 6 NUL byte
        b"",  # 7 empty line
        orjson.dumps({"text": GOOD[1]}),  # 8 good
        orjson.dumps(["not", "an", "object"]),  # 9 not an object
        orjson.dumps({"text": GOOD[2]}),  # 10 good
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")


def _rejects(out: Path) -> list[dict[str, object]]:
    return pq.read_table(only_part(out / "rejected" / "read")).to_pylist()


def _texts(out: Path) -> list[str]:
    return [t for f in sorted((out / "data").rglob("*.parquet")) for t in pq.read_table(f).column("text").to_pylist()]


def test_shard_processes_malformed_jsonl_to_the_end(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    _bad_jsonl(src)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["shard", str(src), "--source-type", "generic", "--lang", "en", "--out", str(out), "--quality-profile", "none"])
    assert res.exit_code == 0, res.output
    assert sorted(_texts(out)) == sorted(GOOD)
    rejects = {r["line"]: r for r in _rejects(out)}
    assert sorted(rejects) == [2, 3, 4, 5, 6, 7, 9]
    assert all(r["drop_reason"] == "malformed" and r["file"] == str(src) and r["stage"] == "read" for r in rejects.values())
    prefixes = {line: str(r["drop_value"]).split(":")[0] for line, r in rejects.items()}
    assert prefixes == {
        2: "invalid_json",
        3: "missing_field",
        4: "wrong_type",
        5: "invalid_utf8",
        6: "nul_byte",
        7: "empty_line",
        9: "not_an_object",
    }
    assert rejects[3]["field"] == "text" and rejects[4]["field"] == "text"
    assert rejects[2]["raw"] == '{"text": "broken'
    assert "read       in       10  kept        3  rejected      7" in res.output


def test_repair_mode_keeps_invalid_utf8_with_replacement(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    _bad_jsonl(src)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["shard", str(src), "--source-type", "generic", "--out", str(out), "--invalid-utf8", "repair", "--languages", "all", "--quality-profile", "none"])
    assert res.exit_code == 0, res.output
    assert any("\ufffd" in t for t in _texts(out))
    assert 5 not in {r["line"] for r in _rejects(out)}


def test_truncated_gzip_and_crlf_bom(tmp_path: Path) -> None:
    body = b"".join(orjson.dumps({"text": f"document number {i} " * 20}) + b"\n" for i in range(200))
    gz = gzip.compress(body)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gz[: len(gz) * 2 // 3])
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(orjson.dumps({"text": f"line {i}"}) for i in range(5)) + b"\r\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["shard", str(cut), str(crlf), "--source-type", "generic", "--out", str(out), "--quality-profile", "none"])
    assert res.exit_code == 0, res.output
    texts = _texts(out)
    assert [f"line {i}" for i in range(5)] == [t for t in texts if t.startswith("line ")]
    gz_docs = [t for t in texts if t.startswith("document number")]
    assert 0 < len(gz_docs) < 200
    (truncated,) = _rejects(out)
    assert str(truncated["drop_value"]).startswith("truncated_file")
    assert truncated["line"] == len(gz_docs) + 1 and truncated["file"] == str(cut)


def test_missing_input_and_bad_config_are_clear_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["shard", str(tmp_path / "nope.jsonl"), "--source-type", "generic", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "nope.jsonl" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - {name: a, type: generic, paths: [x.jsonl], colour: red}\n")
    res = runner.invoke(main, ["run", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "bad.yaml" in res.output and "sources.0.colour" in res.output


def _commands() -> list[tuple[str, click.Command]]:
    assert isinstance(main, click.Group)
    return sorted(main.commands.items())


@pytest.mark.parametrize(("name", "command"), _commands())
def test_every_option_is_explained(name: str, command: click.Command) -> None:
    assert command.help and len(command.help) > 20, name
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help"
    res = CliRunner().invoke(main, [name, "--help"])
    assert res.exit_code == 0
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:  # hidden: deprecated aliases (--encoding)
            assert param.opts[0] in res.output


def test_every_command_and_option_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for name, command in _commands():
        assert f"curate {name}" in readme, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.opts[0] in readme, f"{name} {param.opts[0]}"


def test_dedup_command_removes_duplicates_only(tmp_path: Path) -> None:
    """Exact and near duplicates go to rejected/dedup with duplicate_of; a French line is not dropped."""
    base = "The committee met on Tuesday to review the budget for the new library and the park."
    lines = [
        {"text": base},
        {"text": base.upper()},  # exact duplicate under the case-insensitive key
        {"text": base.replace("Tuesday", "Wednesday")},
        {"text": "Le comité s'est réuni mardi pour examiner le budget de la nouvelle bibliothèque."},
        {"text": "中文段落，完全不同的内容。"},
    ]
    src = tmp_path / "dups.jsonl"
    src.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["dedup", str(src), "--source-type", "generic", "--out", str(out), "--threshold", "0.5"])
    assert res.exit_code == 0, res.output
    dups = pq.read_table(only_part(out / "rejected" / "dedup")).to_pylist()
    ids = {r["id"]: r for r in dups}
    assert ids["generic/dups/1"]["drop_reason"] == "exact_duplicate"
    assert ids["generic/dups/1"]["duplicate_of"] == "generic/dups/0"
    assert pq.read_table(only_part(out / "rejected" / "language")).num_rows == 0
    kept = sorted(_texts(out))
    assert lines[3]["text"] in kept and lines[4]["text"] in kept and base in kept


def test_repeated_own_ids_across_files_fail_loudly(tmp_path: Path) -> None:
    """The same page (own id = URL) in two files of one source would confuse duplicate keepers."""
    sample = Path(__file__).resolve().parents[1] / "data" / "samples" / "en" / "cc_en_head-0091.jsonl"
    for name in ("snapshot1.jsonl", "snapshot2.jsonl"):
        (tmp_path / name).write_bytes(sample.read_bytes())
    res = CliRunner().invoke(
        main,
        ["shard", str(tmp_path / "snapshot1.jsonl"), str(tmp_path / "snapshot2.jsonl"), "--source-type", "dolma", "--out", str(tmp_path / "out")],
    )
    assert res.exit_code == 1
    assert "10 documents share an id" in res.output and "dolma/http" in res.output
