"""Read throughput of the input-format layers (CSV, TSV, legacy encodings, UTF-16, html: strip), as
JSON, each with a baseline measured in the same run on the same bytes:

- CSV (`tabular.read_csv`: per-line decode, line numbers, per-row rejects) vs the standard library
  alone (`csv.DictReader` over the decoded file): the price of the bookkeeping;
- JSONL in cp1252 / GB18030 (line-by-line legacy decode) and UTF-16-LE with a BOM (stream
  transcoding) vs the same records as UTF-8 through the same reader;
- `html_to_text` (markdownify on BeautifulSoup) vs `BeautifulSoup(...).get_text()` on the same HTML
  (the plain-text floor of the same parser).

Corpus: the shipped real samples (C4 for English, cmrc2018 for Chinese), repeated to --mb MB. One
process, one thread: MB/s is per core.

    python bench/read_formats.py [--mb 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.html_text import html_to_text  # noqa: E402
from pipeline.sources.reader import read_file  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from samples import cmrc_paragraphs, repeat_to, web_texts  # noqa: E402


def best_s(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _file(data: bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def _drain(path: str, **kw: object) -> int:
    return sum(1 for _ in read_file(path, "src", **kw))  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=8.0, help="MB of text per case")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    en = repeat_to(web_texts(), args.mb)
    zh = repeat_to(cmrc_paragraphs(), args.mb)
    results: dict[str, object] = {}
    paths: list[str] = []
    try:
        # CSV: our reader vs csv.DictReader on the same (decoded) file
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["label", "review"])
        for i, t in enumerate(zh):
            w.writerow([i % 2, t])
        data = buf.getvalue().encode("utf-8")
        mb = len(data) / 1e6
        path = _file(data, ".csv")
        paths.append(path)

        def stdlib() -> int:
            with open(path, encoding="utf-8", newline="") as fh:
                return sum(1 for _ in csv.DictReader(fh))

        ours, base = best_s(lambda: _drain(path), args.repeat), best_s(stdlib, args.repeat)
        results["csv_zh"] = {"mb": round(mb, 2), "curate_mb_s": round(mb / ours, 2), "csv_dictreader_mb_s": round(mb / base, 2), "ratio": round(base / ours, 3)}

        # encodings: the same JSONL records in UTF-8 vs cp1252 / GB18030 / UTF-16-LE (BOM)
        for name, texts, codec in (("cp1252_en", [t for t in en if _encodes(t, "cp1252")], "cp1252"), ("gb18030_zh", zh, "gb18030"), ("utf16_zh", zh, "utf-16-le")):
            body = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
            utf8 = _file(body.encode("utf-8"), ".jsonl")
            raw = ("\ufeff" + body).encode(codec) if codec.startswith("utf-16") else body.encode(codec)
            other = _file(raw, ".jsonl")
            paths += [utf8, other]
            mb = len(body.encode("utf-8")) / 1e6
            enc = "utf-8" if codec.startswith("utf-16") else codec
            t_other = best_s(lambda: _drain(other, encoding=enc), args.repeat)
            t_utf8 = best_s(lambda: _drain(utf8), args.repeat)
            results[f"jsonl_{name}"] = {"mb_as_utf8": round(mb, 2), "curate_mb_s": round(mb / t_other, 2), "utf8_same_records_mb_s": round(mb / t_utf8, 2), "ratio": round(t_utf8 / t_other, 3)}

        # html: markdownify vs BeautifulSoup.get_text on the same HTML
        from bs4 import BeautifulSoup

        pages = ["".join(f"<p>{html.escape(p)}</p>\n" for p in t.split("\n") if p.strip()) for t in repeat_to(web_texts(), args.mb / 4)]
        mb = sum(len(p.encode("utf-8")) for p in pages) / 1e6
        ours = best_s(lambda: [html_to_text(p) for p in pages], args.repeat)
        base = best_s(lambda: [BeautifulSoup(p, "html.parser").get_text() for p in pages], args.repeat)
        results["html_strip_en"] = {"mb": round(mb, 2), "curate_mb_s": round(mb / ours, 2), "bs4_get_text_mb_s": round(mb / base, 2), "ratio": round(base / ours, 3)}
    finally:
        for p in paths:
            os.unlink(p)
    print(json.dumps(results, indent=2))


def _encodes(text: str, codec: str) -> bool:
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


if __name__ == "__main__":
    main()
