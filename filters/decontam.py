"""Benchmark decontamination: n-gram overlap between training documents and evaluation sets.

Why n-grams of the dedup shingler (pipeline/dedup/shingles.py): the same script-aware tokens
serve both, word n-grams for space-delimited text and character n-grams for Han/Kana/Hangul runs,
with the same folding (NFKC + casefold, punctuation as separators), so "light edits" of case,
full-width forms and punctuation never hide an overlap. GPT-3 (Brown et al. 2020, appendix C) used
13-gram word overlaps; the Chinese n is measured (bench/decontam_pii.py, README).

The hot path stays in numpy: the full 64-bit hashes of every document's n-grams
(`ngram_hashes64`, vectorised over the batch) are looked up in the sorted hashes of the eval
n-grams (`np.searchsorted`). 64 bits, not the 32 of MinHash shingles: with ~500k eval n-grams a
32-bit lookup collides at random about once per 10^4 document n-grams, which flags long unrelated
documents. Only full n-grams count (a run shorter than n yields none), so a short eval answer
("Paris") never matches by itself. Each eval n-gram carries a bitmask of the eval sets it comes
from, so one lookup serves every set.

Per document the tagger stores `decon_ngrams` (distinct eval n-grams found), `decon_sets` (the
eval sets hit, most n-grams first) and `decon_match` (the longest run of consecutive matched
n-grams, as text, cut to 200 characters) with `decon_span` (its length in tokens). `select`
thresholds `decon_ngrams` (config `decontamination.min_ngrams`), so `curate refilter` can re-threshold.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from pipeline.config import DecontaminationConfig, EvalSetConfig
from pipeline.dedup.shingles import CHAR, ngram_hashes64, shingles

#: Presence table size (2^24 entries, 16 MB): ~2.5% filled by 400k eval n-grams.
_TABLE_BITS = 24
_TABLE_MASK = (1 << _TABLE_BITS) - 1
#: Longest match kept as text (for review in rejects).
MATCH_CHARS = 200


class EvalSetError(ValueError):
    """An eval set that cannot be read; the message names the file, record and field."""


def _field(rec: Any, path: str) -> Any:
    cur = rec
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _as_text(value: Any) -> str:
    """A field's value as text: strings as they are, lists (choices, answers) joined by newlines,
    SQuAD answers ({text: ...}) by their text, numbers as written."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _as_text(value.get("text"))
    if isinstance(value, list):
        return "\n".join(t for t in (_as_text(v) for v in value) if t)
    return str(value)


def _squad_records(data: list[Any]) -> Iterator[dict[str, Any]]:
    """SQuAD / cmrc2018 nesting -> one flat record per question (context, question, answers)."""
    for article in data:
        for para in article.get("paragraphs", []) if isinstance(article, dict) else []:
            qas = para.get("qas") or [{}]
            for qa in qas:
                yield {"context": para.get("context"), "question": qa.get("question"), "answers": qa.get("answers"), "answer": qa.get("answers")}


def read_records(path: Path, fmt: str = "auto") -> Iterator[dict[str, Any]]:
    """Records of a local eval file: JSONL, JSON (a list, {data: [...]} SQuAD nesting, or one object
    holding a list), Parquet or CSV."""
    if fmt == "auto":
        suffix = path.suffix.lower()
        fmt = {".jsonl": "jsonl", ".json": "json", ".parquet": "parquet", ".csv": "csv"}.get(suffix, "")
        if not fmt:
            raise EvalSetError(f"{path}: cannot tell the eval set's format from its extension (jsonl, json, parquet, csv)")
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            yield from pq.read_table(path).to_pylist()
            return
        raw = path.read_bytes()
    except OSError as e:
        raise EvalSetError(f"{path}: cannot read eval set: {e.strerror or e}") from e
    if fmt == "csv":
        yield from csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
        return
    if fmt == "jsonl":
        for i, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise EvalSetError(f"{path}:{i}: invalid JSON: {e}") from e
            yield rec if isinstance(rec, dict) else {"text": rec}
        return
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise EvalSetError(f"{path}: invalid JSON: {e}") from e
    if isinstance(doc, dict) and isinstance(doc.get("data"), list) and doc["data"] and isinstance(doc["data"][0], dict) and "paragraphs" in doc["data"][0]:
        yield from _squad_records(doc["data"])
        return
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise EvalSetError(f"{path}: a JSON eval set must be a list of records or an object holding one list")
        doc = lists[0]
    if not isinstance(doc, list):
        raise EvalSetError(f"{path}: a JSON eval set must be a list of records")
    for rec in doc:
        yield rec if isinstance(rec, dict) else {"text": rec}


def items_from_records(records: Iterable[dict[str, Any]], fields: Sequence[str], origin: str) -> list[str]:
    """One item text per record: the given fields (question, choices, answer, context, ...) joined
    by newlines. A record without any of them is an error naming the record and the fields."""
    items = []
    for i, rec in enumerate(records):
        parts = [_as_text(_field(rec, f)) for f in fields]
        text = "\n".join(p for p in parts if p)
        if not text.strip():
            raise EvalSetError(f"{origin}: record {i}: none of the fields {', '.join(fields)} holds text")
        items.append(text)
    if not items:
        raise EvalSetError(f"{origin}: the eval set has no records")
    return items


@dataclass
class EvalIndex:
    """The n-grams of every eval set: sorted unique 64-bit hashes and, per hash, a bitmask of the
    eval sets it comes from (at most 64 sets)."""

    names: list[str]
    word_ngram: int
    char_ngram: int
    keys: np.ndarray  # sorted unique uint64 n-gram hashes
    masks: np.ndarray  # uint64 bitmask over `names`, parallel to keys
    ngrams: dict[str, int]  # eval set -> distinct n-grams
    #: presence table over the low bits of the keys: one random read per document n-gram rules
    #: out almost all of them before the binary search (~20 reads each) of the few left
    table: np.ndarray = field(default_factory=lambda: np.zeros(1, bool))

    @classmethod
    def build(cls, sets: Sequence[tuple[str, Sequence[str]]], word_ngram: int = 13, char_ngram: int = 8) -> EvalIndex:
        if len(sets) > 64:
            raise EvalSetError(f"at most 64 eval sets per run, got {len(sets)}")
        names = [name for name, _ in sets]
        keys_parts, mask_parts = [], []
        counts: dict[str, int] = {}
        for bit, (name, items) in enumerate(sets):
            uniq = list(dict.fromkeys(items))  # each distinct text once (SQuAD repeats contexts)
            h = np.unique(ngram_hashes64(uniq, word_ngram, char_ngram)[0])
            counts[name] = int(len(h))
            keys_parts.append(h)
            mask_parts.append(np.full(len(h), np.uint64(1) << np.uint64(bit), np.uint64))
        if keys_parts:
            allk = np.concatenate(keys_parts)
            allm = np.concatenate(mask_parts)
        else:
            allk = np.zeros(0, np.uint64)
            allm = np.zeros(0, np.uint64)
        keys, inverse = np.unique(allk, return_inverse=True)
        masks = np.zeros(len(keys), np.uint64)
        np.bitwise_or.at(masks, inverse, allm)
        table = np.zeros(1 << _TABLE_BITS, bool)
        table[(keys & np.uint64(_TABLE_MASK)).astype(np.int64)] = True
        return cls(names, word_ngram, char_ngram, keys, masks, counts, table)

    def tag(self, texts: Sequence[str]) -> dict[str, list[Any]]:
        """decon_ngrams, decon_span, decon_sets, decon_match for every text (vectorised over the
        batch; only documents with an overlap are looked at one by one)."""
        n = len(texts)
        ngrams = [0] * n
        spans = [0] * n
        sets: list[list[str]] = [[] for _ in range(n)]
        matches: list[str | None] = [None] * n
        if not n or not len(self.keys):
            return {"decon_ngrams": ngrams, "decon_span": spans, "decon_sets": sets, "decon_match": matches}
        h, doc, pos = ngram_hashes64(texts, self.word_ngram, self.char_ngram)
        maybe = self.table[(h & np.uint64(_TABLE_MASK)).astype(np.int64)]
        h, doc, pos = h[maybe], doc[maybe], pos[maybe]
        idx = np.searchsorted(self.keys, h)
        idx[idx == len(self.keys)] = 0
        hit = self.keys[idx] == h
        if not hit.any():
            return {"decon_ngrams": ngrams, "decon_span": spans, "decon_sets": sets, "decon_match": matches}
        h, doc, pos, mask = h[hit], doc[hit], pos[hit], self.masks[idx[hit]]
        for i in np.unique(doc).tolist():
            sel = doc == i
            dh, dpos, dmask = h[sel], pos[sel], mask[sel]
            uh, first = np.unique(dh, return_index=True)
            ngrams[i] = int(len(uh))
            um = dmask[first]
            per_set = [int(np.count_nonzero(um & (np.uint64(1) << np.uint64(b)))) for b in range(len(self.names))]
            sets[i] = [self.names[b] for b in sorted(range(len(self.names)), key=lambda b: (-per_set[b], self.names[b])) if per_set[b]]
            # longest run of consecutive matched windows (positions are non-decreasing)
            brk = np.flatnonzero(np.diff(dpos) != 1) + 1
            starts = np.concatenate([[0], brk])
            lens = np.diff(np.concatenate([starts, [len(dpos)]]))
            j = int(np.argmax(lens))
            spans[i], matches[i] = self._match(texts[i], int(dpos[starts[j]]), int(lens[j]))
        return {"decon_ngrams": ngrams, "decon_span": spans, "decon_sets": sets, "decon_match": matches}

    def _match(self, text: str, start: int, length: int) -> tuple[int, str]:
        """(tokens, text) of `length` consecutive matched windows from shingle `start` of `text`,
        read back with the reference shingler (rare: only documents with an overlap)."""
        sh = shingles(text, self.word_ngram, self.char_ngram)[start : start + length]
        if not sh:
            return 0, ""
        kind = sh[0][0]
        toks = list(sh[0][1]) + [w[1][-1] for w in sh[1:]]
        return len(toks), ("" if kind == CHAR else " ").join(toks)[:MATCH_CHARS]


def _hub_records(spec: EvalSetConfig) -> Iterator[dict[str, Any]]:
    try:
        import datasets

        ds = datasets.load_dataset(spec.hub, spec.hub_config, split=spec.split)
    except Exception as e:  # datasets raises many types (offline, missing config, missing split)
        raise EvalSetError(f"eval set {spec.name!r}: cannot load Hub dataset {spec.hub!r}: {e}") from e
    yield from ds


def load_eval_set(spec: EvalSetConfig) -> list[str]:
    """The item texts of one configured eval set."""
    if spec.path:
        origin = spec.path
        records: Iterable[dict[str, Any]] = read_records(Path(spec.path), spec.format)
    else:
        origin = f"hub:{spec.hub}"
        records = _hub_records(spec)
    return items_from_records(records, spec.fields, origin)


def load_eval_sets(cfg: DecontaminationConfig) -> list[tuple[str, list[str]]]:
    return [(spec.name, load_eval_set(spec)) for spec in cfg.eval_sets]


def eval_fingerprints(cfg: DecontaminationConfig) -> list[dict[str, Any]]:
    """What the tags depend on per eval set: its spec and, for a local file, size and mtime (a new
    version of the file re-tags, as a new input does)."""
    out = []
    for spec in cfg.eval_sets:
        fp: dict[str, Any] = spec.model_dump(mode="json")
        if spec.path:
            try:
                st = Path(spec.path).stat()
            except OSError as e:
                raise EvalSetError(f"{spec.path}: cannot read eval set {spec.name!r}: {e.strerror or e}") from e
            fp["size"], fp["mtime_ns"] = st.st_size, st.st_mtime_ns
        out.append(fp)
    return out
