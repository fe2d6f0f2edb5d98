"""Character sets (issue 19, item 3): UTF-16/32 by BOM, legacy encodings per source, and messages
that say which byte broke which line. Real text: C4 (cp1252-encodable English), cmrc2018 (GB18030),
全唐诗 (Traditional Chinese in Big5)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest
from formathelpers import kept_rows, read_rejects, read_stage, shard
from srchelpers import SAMPLES, docs, read_source, rejects

from pipeline.document import Reject
from pipeline.normalize import normalize_text
from pipeline.sources.reader import read_file


def _c4(n: int) -> tuple[list[str], list[str]]:
    """n C4 texts that cp1252 can encode and that are not ASCII, and n ASCII ones."""
    texts = [orjson.loads(line)["text"] for line in (SAMPLES / "en" / "c4_demo.jsonl").read_bytes().splitlines()]
    legacy, ascii_ = [], []
    for t in texts:
        if t.isascii():
            ascii_.append(t)
            continue
        try:
            t.encode("cp1252")
        except UnicodeEncodeError:
            continue
        legacy.append(t)
    return legacy[:n], ascii_[:n]


def _jsonl_text(texts: list[str]) -> str:
    return "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)


def _cmrc(n: int) -> list[str]:
    data = orjson.loads((SAMPLES / "zh" / "cmrc2018_dev.json").read_bytes())
    return [p["context"] for a in data["data"] for p in a["paragraphs"]][:n]


def _big5_poems(n: int) -> list[str]:
    """Traditional Chinese poems (全唐诗) whose every character Big5 has."""
    out = []
    for p in orjson.loads((SAMPLES / "zh" / "poet.tang.0.json").read_bytes()):
        text = "".join(p["paragraphs"])
        try:
            text.encode("big5")
        except UnicodeEncodeError:
            continue
        out.append(text)
    return out[:n]


def test_cp1252_read_as_utf8_names_the_byte_and_encoding_reads_it(tmp_path: Path) -> None:
    legacy, ascii_ = _c4(5)
    lines = [legacy[0], ascii_[0], legacy[1], ascii_[1], legacy[2]]
    p = tmp_path / "c4_cp1252.jsonl"
    p.write_bytes(_jsonl_text(lines).encode("cp1252"))
    items = read_source(type="generic", paths=[str(p)])
    got = [(x.line, x.drop_value) for x in rejects(items)]
    expected = []
    for i, line in enumerate(p.read_bytes().split(b"\n")[:-1], start=1):
        if not line.isascii():
            first = next(j for j, b in enumerate(line) if b >= 0x80)  # cp1252 bytes >= 0x80 are never valid UTF-8 here
            expected.append((i, f"invalid_utf8: invalid UTF-8 at byte {first}"))
    assert got == expected and len(got) == 3
    assert len(docs(items)) == 2 and len(items) == 5

    items = read_source(type="generic", paths=[str(p)], encoding="cp1252")
    assert [d.text for d in docs(items)] == lines and not rejects(items)


def test_gb18030_jsonl_and_big5_csv(tmp_path: Path) -> None:
    zh = _cmrc(6)
    gb = tmp_path / "zh_gb18030.jsonl"
    gb.write_bytes(_jsonl_text(zh).encode("gb18030"))
    assert [d.text for d in docs(read_source(type="generic", paths=[str(gb)], encoding="gb18030"))] == zh
    # the same bytes read as UTF-8: every line is rejected, none is silently mangled
    as_utf8 = read_source(type="generic", paths=[str(gb)])
    assert len(rejects(as_utf8)) == 6 and all(r.drop_value.startswith("invalid_utf8: invalid UTF-8 at byte ") for r in rejects(as_utf8))

    poems = _big5_poems(5)
    b5 = tmp_path / "tang_big5.csv"
    b5.write_bytes(("id,poem\r\n" + "".join(f"{i},{t}\r\n" for i, t in enumerate(poems))).encode("big5"))
    got = docs(read_source(type="generic", paths=[str(b5)], encoding="big5", fields={"text": "poem"}))
    assert [d.text for d in got] == poems
    assert [d.id for d in got] == [f"src/tang_big5/{i}" for i in range(5)]


def test_invalid_legacy_byte_rejects_its_line_or_is_repaired(tmp_path: Path) -> None:
    legacy, _ = _c4(3)
    raw = _jsonl_text(legacy).encode("cp1252").split(b"\n")
    raw[1] = raw[1][:20] + b"\x81" + raw[1][20:]  # 0x81 is undefined in cp1252
    p = tmp_path / "bad_cp1252.jsonl"
    p.write_bytes(b"\n".join(raw))
    items = list(read_file(str(p), "src", encoding="cp1252"))
    assert [type(x) for x in items] == [type(items[0]), Reject, type(items[0])]
    assert (items[1].line, items[1].drop_value) == (2, "invalid_encoding: invalid cp1252 at byte 20")  # type: ignore[union-attr]
    fixed = docs(read_source("repair", type="generic", paths=[str(p)], encoding="cp1252"))
    assert len(fixed) == 3 and fixed[1].meta["utf8_repaired"] == 1 and "\ufffd" in fixed[1].text


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_with_bom_read_like_utf8(tmp_path: Path, codec: str) -> None:
    legacy, ascii_ = _c4(3)
    texts = [*legacy, *ascii_, *_cmrc(2)]
    body = _jsonl_text(texts)
    bom = "\ufeff".encode(codec)
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_bytes(bom + body.encode(codec))
    gz = tmp_path / "y.jsonl.gz"
    gz.write_bytes(gzip.compress(bom + body.encode(codec), mtime=0))
    txt = tmp_path / "z.txt"
    txt.write_bytes(bom + "\n\n".join(texts[:3]).encode(codec))
    arr = tmp_path / "w.json"
    arr.write_bytes(bom + json.dumps([{"text": t} for t in texts], ensure_ascii=False, indent=1).encode(codec))
    for path, want in ((jsonl, texts), (gz, texts), (arr, texts)):
        got = read_source(type="generic", paths=[str(path)])
        assert [d.text for d in docs(got)] == want and not rejects(got), path.name
    (whole,) = docs(read_source(type="generic", paths=[str(txt)], txt_unit="file"))
    assert whole.text == "\n\n".join(texts[:3])


def test_utf16_without_bom_gets_a_hint_and_reads_with_encoding(tmp_path: Path) -> None:
    texts = _cmrc(2)
    p = tmp_path / "nobom.jsonl"
    p.write_bytes(_jsonl_text(texts).encode("utf-16-le"))
    items = read_source(type="generic", paths=[str(p)])
    assert all(isinstance(x, Reject) for x in items)
    assert items[0].drop_value == (  # type: ignore[union-attr]
        "nul_byte: looks like UTF-16 or UTF-32 without a byte order mark; set `encoding` (e.g. utf-16-le)"
    )
    assert [d.text for d in docs(read_source(type="generic", paths=[str(p)], encoding="utf-16-le"))] == texts


def test_excel_unicode_text_export_is_utf16_tsv(tmp_path: Path) -> None:
    """Excel's "Unicode Text" export: UTF-16-LE with a BOM, tab-separated, CRLF."""
    zh = _cmrc(3)
    p = tmp_path / "export.tsv"
    p.write_bytes("\ufeffid\ttext\r\n".encode("utf-16-le") + "".join(f"{i}\t{t}\r\n" for i, t in enumerate(zh)).encode("utf-16-le"))
    got = read_source(type="generic", paths=[str(p)])
    assert [d.text for d in docs(got)] == zh and not rejects(got)
    assert [d.line for d in docs(got)] == [2, 3, 4]


def test_cli_input_encoding(tmp_path: Path) -> None:
    legacy, ascii_ = _c4(4)
    p = tmp_path / "c4_cp1252.jsonl"
    p.write_bytes(_jsonl_text([*legacy, *ascii_]).encode("cp1252"))
    out = tmp_path / "as_utf8"
    res = shard([p], out, "--source-type", "generic", "--lang", "en")
    assert res.exit_code == 0, res.output
    t = read_stage(out)
    assert (t["docs_in"], t["docs_kept"], t["docs_rejected"]) == (8, 4, 4)
    assert t["docs_in"] == t["docs_kept"] + t["docs_rejected"]
    assert {str(r["drop_value"]).split(" at byte ")[0] for r in read_rejects(out)} == {"invalid_utf8: invalid UTF-8"}
    assert "read       in        8  kept        4  rejected      4" in res.output

    out = tmp_path / "cp1252"
    res = shard([p], out, "--source-type", "generic", "--lang", "en", "--input-encoding", "CP1252")
    assert res.exit_code == 0, res.output
    t = read_stage(out)
    assert (t["docs_in"], t["docs_kept"], t["docs_rejected"]) == (8, 8, 0)
    assert sorted(r["text"] for r in kept_rows(out)) == sorted(normalize_text(t)[0] for t in [*legacy, *ascii_])

    res = shard([p], tmp_path / "x", "--source-type", "generic", "--input-encoding", "latin-9x")
    assert res.exit_code == 1
    assert "unknown encoding 'latin-9x'; use a Python codec name such as utf-8, utf-16, cp1252, gb18030, big5" in res.output
    assert "sources.0.encoding" in res.output and "Traceback" not in res.output


def test_whole_json_in_cp1252_names_line_and_byte(tmp_path: Path) -> None:
    legacy, _ = _c4(2)
    body = json.dumps([{"text": t} for t in legacy], ensure_ascii=False, indent=1).encode("cp1252")
    p = tmp_path / "arr.json"
    p.write_bytes(body)
    assert [d.text for d in docs(read_source(type="generic", paths=[str(p)], encoding="cp1252"))] == legacy
    at = body.index(b'"text"', body.index(b'"text"') + 1)  # inside the second record
    p.write_bytes(body[:at] + b"\x81" + body[at:])
    (r,) = read_source(type="generic", paths=[str(p)], encoding="cp1252")
    assert isinstance(r, Reject)
    assert (r.drop_value, r.line) == (f"invalid_encoding: invalid cp1252 at byte {at}", body[:at].count(b"\n") + 1)
