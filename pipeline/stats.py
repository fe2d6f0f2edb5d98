"""Mergeable statistics: every per-shard object adds up (`a + b`) to the run's totals.

The same objects serve one shard, one machine or a Dask cluster: workers return them, the finish
step sums them, and nothing needs the documents again. Only counts and sums live here, so the sum
is exact and independent of the order shards finish in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.sketches import (
    HLL_P,
    decode_registers,
    encode_registers,
    histogram_dict,
    histogram_from_dict,
    hll_count,
)

#: Stages in pipeline order; `rejected/<stage>/` uses the same names.
STAGES = ("read", "normalize", "language", "quality", "contamination", "pii", "dedup")


@dataclass
class StageStats:
    """One stage of one source: documents in = kept + rejected (by reason)."""

    docs_in: int = 0
    docs_kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_bytes: Counter[str] = field(default_factory=Counter)
    rejected_tokens: Counter[str] = field(default_factory=Counter)
    bytes_in: int = 0
    bytes_kept: int = 0
    tokens_in: int = 0
    tokens_kept: int = 0

    @property
    def docs_rejected(self) -> int:
        return sum(self.rejected.values())

    def keep(self, n_bytes: int = 0, n_tokens: int = 0, n: int = 1) -> None:
        self.docs_in += n
        self.docs_kept += n
        self.bytes_in += n_bytes
        self.bytes_kept += n_bytes
        self.tokens_in += n_tokens
        self.tokens_kept += n_tokens

    def reject(self, reason: str, n_bytes: int = 0, n_tokens: int = 0, n: int = 1) -> None:
        self.docs_in += n
        self.rejected[reason] += n
        self.rejected_bytes[reason] += n_bytes
        self.rejected_tokens[reason] += n_tokens
        self.bytes_in += n_bytes
        self.tokens_in += n_tokens

    def balanced(self) -> bool:
        return self.docs_in == self.docs_kept + self.docs_rejected

    def __add__(self, other: StageStats) -> StageStats:
        return StageStats(
            docs_in=self.docs_in + other.docs_in,
            docs_kept=self.docs_kept + other.docs_kept,
            rejected=self.rejected + other.rejected,
            rejected_bytes=_add_counts(self.rejected_bytes, other.rejected_bytes),
            rejected_tokens=_add_counts(self.rejected_tokens, other.rejected_tokens),
            bytes_in=self.bytes_in + other.bytes_in,
            bytes_kept=self.bytes_kept + other.bytes_kept,
            tokens_in=self.tokens_in + other.tokens_in,
            tokens_kept=self.tokens_kept + other.tokens_kept,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs_in": self.docs_in,
            "docs_kept": self.docs_kept,
            "docs_rejected": self.docs_rejected,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            # keyed like rejected_by_reason (a reason with zero bytes still appears)
            "rejected_bytes_by_reason": {r: self.rejected_bytes[r] for r in sorted(self.rejected)},
            "rejected_tokens_by_reason": {r: self.rejected_tokens[r] for r in sorted(self.rejected)},
            "bytes_in": self.bytes_in,
            "bytes_kept": self.bytes_kept,
            "tokens_in": self.tokens_in,
            "tokens_kept": self.tokens_kept,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageStats:
        return cls(
            docs_in=d["docs_in"],
            docs_kept=d["docs_kept"],
            rejected=Counter(d["rejected_by_reason"]),
            rejected_bytes=Counter(d["rejected_bytes_by_reason"]),
            rejected_tokens=Counter(d["rejected_tokens_by_reason"]),
            bytes_in=d["bytes_in"],
            bytes_kept=d["bytes_kept"],
            tokens_in=d["tokens_in"],
            tokens_kept=d["tokens_kept"],
        )


@dataclass
class SizeStats:
    """Size of a set of documents in every unit the report compares."""

    docs: int = 0
    bytes: int = 0
    chars: int = 0
    tokens: int = 0
    words: int = 0

    def add(self, n_bytes: int, n_chars: int, n_tokens: int, n: int = 1, n_words: int = 0) -> None:
        self.docs += n
        self.bytes += n_bytes
        self.chars += n_chars
        self.tokens += n_tokens
        self.words += n_words

    def __add__(self, other: SizeStats) -> SizeStats:
        return SizeStats(
            self.docs + other.docs,
            self.bytes + other.bytes,
            self.chars + other.chars,
            self.tokens + other.tokens,
            self.words + other.words,
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "docs": self.docs,
            "bytes": self.bytes,
            "chars": self.chars,
            "words": self.words,
            "tokens": self.tokens,
        }
        d["bytes_per_char"] = round(self.bytes / self.chars, 4) if self.chars else None
        d["chars_per_token"] = round(self.chars / self.tokens, 4) if self.tokens else None
        d["bytes_per_token"] = round(self.bytes / self.tokens, 4) if self.tokens else None
        d["tokens_per_word"] = round(self.tokens / self.words, 4) if self.words else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SizeStats:
        return cls(d["docs"], d["bytes"], d["chars"], d["tokens"], d.get("words", 0))


def _add_counts(a: Counter[Any], b: Counter[Any]) -> Counter[Any]:
    """Counter sum that keeps zero entries (Counter's `+` drops them: a reason whose documents had
    zero bytes must not vanish from one sum and stay in another)."""
    out = Counter(a)
    for k, v in b.items():
        out[k] += v
    return out


def _add_maps(a: dict[Any, Any], b: dict[Any, Any]) -> dict[Any, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out[k] + v if k in out else v
    return out


def _max_maps(a: dict[Any, np.ndarray], b: dict[Any, np.ndarray]) -> dict[Any, np.ndarray]:
    """HyperLogLog union: the register-wise maximum."""
    out = dict(a)
    for k, v in b.items():
        out[k] = np.maximum(out[k], v) if k in out else v
    return out


@dataclass
class RunStats:
    """Everything one shard (or a whole run) reports.

    stages: (stage, source) -> StageStats; sizes: (source, lang) -> SizeStats of the kept documents;
    normalize: (source, change name) -> documents it touched; lang_hint: (source, the language the
    source claims, the language we tagged) -> documents, i.e. how often a source's own label agrees;
    any_fail: (stage, source, rule) -> documents failing that rule at all (not only first);
    dup_pairs: (source, keeper's source, unit) -> documents/bytes/tokens dropped as duplicates;
    variants: (source, lang, zh variant, unit) -> kept documents/characters; hist: (unit, source,
    lang) -> log-bucket counts of kept documents' lengths (unit chars or tokens); vocab: (source,
    lang, "cased"/"uncased") -> HyperLogLog registers of the kept documents' words."""

    stages: dict[tuple[str, str], StageStats] = field(default_factory=dict)
    sizes: dict[tuple[str, str], SizeStats] = field(default_factory=dict)
    normalize: Counter[tuple[str, str]] = field(default_factory=Counter)
    lang_hint: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    any_fail: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    dup_pairs: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    variants: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    hist: dict[tuple[str, str, str], Counter[int]] = field(default_factory=dict)
    vocab: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    #: (source, kind, unit) -> PII values / documents found in tag (unit values, docs; kind "any"
    #: with unit redacted_docs: documents whose text redaction changed)
    pii: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: (source, eval set, unit) -> contaminated documents / tokens seen by select (docs, tokens)
    contamination: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: (source, lang, staged column n_tokens_<name>) -> kept documents' tokens of the further tokenizers
    tokenizer_tokens: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def stage(self, stage: str, source: str) -> StageStats:
        key = (stage, source)
        if key not in self.stages:
            self.stages[key] = StageStats()
        return self.stages[key]

    def size(self, source: str, lang: str) -> SizeStats:
        key = (source, lang)
        if key not in self.sizes:
            self.sizes[key] = SizeStats()
        return self.sizes[key]

    def __add__(self, other: RunStats) -> RunStats:
        return RunStats(
            stages=_add_maps(self.stages, other.stages),
            sizes=_add_maps(self.sizes, other.sizes),
            normalize=self.normalize + other.normalize,
            lang_hint=self.lang_hint + other.lang_hint,
            any_fail=self.any_fail + other.any_fail,
            dup_pairs=_add_counts(self.dup_pairs, other.dup_pairs),
            variants=_add_counts(self.variants, other.variants),
            hist=_add_maps(self.hist, other.hist),
            vocab=_max_maps(self.vocab, other.vocab),
            pii=self.pii + other.pii,
            contamination=self.contamination + other.contamination,
            tokenizer_tokens=self.tokenizer_tokens + other.tokenizer_tokens,
        )

    def __radd__(self, other: object) -> RunStats:
        # lets sum(list_of_stats) work
        if other == 0:
            return self
        return NotImplemented

    def stage_total(self, stage: str) -> StageStats:
        total = StageStats()
        for (st, _), s in self.stages.items():
            if st == stage:
                total = total + s
        return total

    def balanced(self) -> bool:
        return all(s.balanced() for s in self.stages.values())

    def to_dict(self) -> dict[str, Any]:
        """Deterministic JSON-able form (sorted keys), the `stats.json` layout."""
        stage_names = sorted({st for st, _ in self.stages}, key=_stage_order)
        stages: dict[str, Any] = {}
        for st in stage_names:
            by_source = {src: s.to_dict() for (st2, src), s in sorted(self.stages.items()) if st2 == st}
            stages[st] = {"total": self.stage_total(st).to_dict(), "by_source": by_source}
        sizes: dict[str, dict[str, Any]] = {}
        for (src, lang), s in sorted(self.sizes.items()):
            sizes.setdefault(src, {})[lang] = s.to_dict()
        by_lang: dict[str, SizeStats] = {}
        for (_, lang), s in self.sizes.items():
            by_lang[lang] = by_lang.get(lang, SizeStats()) + s
        normalize: dict[str, dict[str, int]] = {}
        for (src, change), n in sorted(self.normalize.items()):
            if n <= 0:  # Counter addition drops zeros; so does the JSON form, so sums match
                continue
            normalize.setdefault(src, {})[change] = n
        hints: dict[str, dict[str, Any]] = {}
        for (src, hint, lang), n in sorted(self.lang_hint.items()):
            block = hints.setdefault(src, {"docs": 0, "agree": 0, "pairs": {}})
            block["docs"] += n
            block["agree"] += n if hint == lang else 0
            block["pairs"].setdefault(hint, {})[lang] = n
        for block in hints.values():
            block["agreement"] = round(block["agree"] / block["docs"], 4) if block["docs"] else None
        any_fail: dict[str, dict[str, dict[str, int]]] = {}
        for (st, src, rule), n in sorted(self.any_fail.items()):
            any_fail.setdefault(st, {}).setdefault(src, {})[rule] = n
        return {
            "stages": stages,
            "sizes": {
                "by_source": sizes,
                "by_lang": {lang: s.to_dict() for lang, s in sorted(by_lang.items())},
                "total": sum(self.sizes.values(), SizeStats()).to_dict(),
            },
            "normalize": normalize,
            "lang_hint": hints,
            "any_fail": any_fail,
            "duplicates": self._duplicates_dict(),
            "variants": self._variants_dict(),
            "histograms": {unit: self._hist_dict(unit) for unit in HIST_UNITS},
            "vocab": self._vocab_dict(),
            "pii": _nested(self.pii),
            "contamination": _nested(self.contamination),
            "tokenizers": self._tokenizers_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunStats:
        rs = cls()
        for st, block in d["stages"].items():
            for src, s in block["by_source"].items():
                rs.stages[(st, src)] = StageStats.from_dict(s)
        for src, langs in d["sizes"]["by_source"].items():
            for lang, s in langs.items():
                rs.sizes[(src, lang)] = SizeStats.from_dict(s)
        for src, changes in d["normalize"].items():
            for change, n in changes.items():
                rs.normalize[(src, change)] = n
        for src, block in d.get("lang_hint", {}).items():
            for hint, langs in block["pairs"].items():
                for lang, n in langs.items():
                    rs.lang_hint[(src, hint, lang)] = n
        for st, by_src in d.get("any_fail", {}).items():
            for src, rules in by_src.items():
                for rule, n in rules.items():
                    rs.any_fail[(st, src, rule)] = n
        for src, block in d["duplicates"]["pairs"].items():
            for ksrc, units in block.items():
                for unit, n in units.items():
                    rs.dup_pairs[(src, ksrc, unit)] = n
        for src, langs in d["variants"]["by_source"].items():
            for lang, variants in langs.items():
                for variant, units in variants.items():
                    for unit, n in units.items():
                        rs.variants[(src, lang, variant, unit)] = n
        for unit, block in d["histograms"].items():
            for src, langs in block["by_source"].items():
                for lang, h in langs.items():
                    rs.hist[(unit, src, lang)] = histogram_from_dict(h)
        for name in ("pii", "contamination"):
            counter = getattr(rs, name)
            for a, block in d.get(name, {}).items():
                for b, units in block.items():
                    for unit, n in units.items():
                        counter[(a, b, unit)] = n
        for src, langs in d["vocab"]["sketches"].items():
            for lang, sketches in langs.items():
                for case, reg in sketches.items():
                    rs.vocab[(src, lang, case)] = decode_registers(reg)
        for src, langs in d.get("tokenizers", {}).get("by_source", {}).items():
            for lang, cols in langs.items():
                for col, n in cols.items():
                    rs.tokenizer_tokens[(src, lang, col)] = n
        return rs

    def _tokenizers_dict(self) -> dict[str, Any]:
        """Kept tokens per further tokenizer (tokens.tokenizer[1:]), by source x language and by language."""
        by_source: dict[str, dict[str, dict[str, int]]] = {}
        by_lang: dict[str, Counter[str]] = {}
        for (src, lang, col), n in sorted(self.tokenizer_tokens.items()):
            by_source.setdefault(src, {}).setdefault(lang, {})[col] = n
            by_lang.setdefault(lang, Counter())[col] += n
        return {"by_source": by_source, "by_lang": {lang: dict(sorted(c.items())) for lang, c in sorted(by_lang.items())}}

    def _duplicates_dict(self) -> dict[str, Any]:
        pairs: dict[str, dict[str, dict[str, int]]] = {}
        for (src, ksrc, unit), n in sorted(self.dup_pairs.items()):
            pairs.setdefault(src, {}).setdefault(ksrc, {})[unit] = n

        def rates(docs_in: int, within: int, across: int) -> dict[str, Any]:
            return {
                "docs_in": docs_in,
                "within": within,
                "across": across,
                "within_rate": round(within / docs_in, 4) if docs_in else None,
                "across_rate": round(across / docs_in, 4) if docs_in else None,
            }

        by_source: dict[str, Any] = {}
        for (st, src), s in sorted(self.stages.items()):
            if st != "dedup":
                continue
            within = self.dup_pairs.get((src, src, "docs"), 0)
            across = sum(n for (a, b, u), n in self.dup_pairs.items() if a == src and b != src and u == "docs")
            by_source[src] = rates(s.docs_in, within, across)
        total = rates(*(sum(v[k] for v in by_source.values()) for k in ("docs_in", "within", "across")))
        return {"pairs": pairs, "by_source": by_source, "total": total}

    def _variants_dict(self) -> dict[str, Any]:
        by_source: dict[str, Any] = {}
        by_lang: dict[str, dict[str, dict[str, Any]]] = {}
        for (src, lang, variant, unit), n in sorted(self.variants.items()):
            by_source.setdefault(src, {}).setdefault(lang, {}).setdefault(variant, {})[unit] = n
            block = by_lang.setdefault(lang, {}).setdefault(variant, {"docs": 0, "chars": 0})
            block[unit] += n
        for variants in by_lang.values():
            docs = sum(v["docs"] for v in variants.values())
            chars = sum(v["chars"] for v in variants.values())
            for v in variants.values():
                v["share_docs"] = round(v["docs"] / docs, 4) if docs else None
                v["share_chars"] = round(v["chars"] / chars, 4) if chars else None
        return {"by_source": by_source, "by_lang": by_lang}

    def _hist_dict(self, unit: str) -> dict[str, Any]:
        by_source: dict[str, dict[str, Any]] = {}
        by_lang: dict[str, Counter[int]] = {}
        total: Counter[int] = Counter()
        for (u, src, lang), counts in sorted(self.hist.items()):
            if u != unit:
                continue
            by_source.setdefault(src, {})[lang] = histogram_dict(counts)
            by_lang[lang] = by_lang.get(lang, Counter()) + counts
            total += counts
        return {
            "by_source": by_source,
            "by_lang": {lang: histogram_dict(c) for lang, c in sorted(by_lang.items())},
            "total": histogram_dict(total),
        }

    def _vocab_dict(self) -> dict[str, Any]:
        def sizes(regs: dict[str, np.ndarray]) -> dict[str, Any]:
            cased = hll_count(regs["cased"]) if "cased" in regs else 0
            uncased = hll_count(regs["uncased"]) if "uncased" in regs else 0
            return {"cased": cased, "uncased": uncased, "reduction": round(1 - uncased / cased, 4) if cased else None}

        sketches: dict[str, dict[str, dict[str, str]]] = {}
        by_lang: dict[str, dict[str, np.ndarray]] = {}
        total: dict[str, np.ndarray] = {}
        for (src, lang, case), reg in sorted(self.vocab.items()):
            sketches.setdefault(src, {}).setdefault(lang, {})[case] = encode_registers(reg)
            merged = by_lang.setdefault(lang, {})
            merged[case] = np.maximum(merged[case], reg) if case in merged else reg
            total[case] = np.maximum(total[case], reg) if case in total else reg
        return {
            "p": HLL_P,
            "unit": VOCAB_UNIT,
            "by_lang": {lang: sizes(regs) for lang, regs in sorted(by_lang.items())},
            "total": sizes(total),
            "sketches": sketches,
        }


#: Length units with a histogram (document columns n_chars, n_tokens).
HIST_UNITS = ("chars", "tokens")
VOCAB_UNIT = "distinct words (letter runs in scripts with case) of kept documents, HyperLogLog estimate"


def _nested(counts: Counter[tuple[str, str, str]]) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for (a, b, unit), n in sorted(counts.items()):
        if n > 0:
            out.setdefault(a, {}).setdefault(b, {})[unit] = n
    return out


def _stage_order(stage: str) -> tuple[int, str]:
    return (STAGES.index(stage) if stage in STAGES else len(STAGES), stage)
