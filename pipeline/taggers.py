"""The tagger protocol and the one list of taggers the tag step runs, in order.

Why a protocol: every tag is computed once in `tag` and stored as columns; a tagger says which
columns it adds (`fields`, the staged schema is built from them), which settings its output depends
on (`config`, part of the shard's resume key: change them and the shard is re-tagged; anything
else stays a `select` threshold, so `curate refilter` can change it) and computes its columns for
a whole batch (`tag`). Adding a tagger is one module plus one entry in `TAGGERS` (and a rule in
`select.RULES` if documents should be dropped for it).

Order matters: taggers that rewrite the stored text (t2s in language, PII redaction) run before
the ones that measure it (tokens, keys, quality signals, decontamination, MinHash), so signatures
and token counts are those of the text that is written.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson
import pyarrow as pa

from filters.decontam import EvalIndex
from filters.language import LanguageTagger, to_simplified
from filters.pii import KINDS as PII_KINDS
from filters.pii import pii_counts
from filters.quality import QUALITY_FIELDS, quality_signals
from pipeline.config import DecontaminationConfig, LanguageConfig, RunConfig
from pipeline.dedup.minhash import signatures
from pipeline.document import DOC_FIELDS, KEY_FIELDS, LANGUAGE_TAG_FIELDS, PROVENANCE_FIELDS, Document, minhash_type
from pipeline.dedup.keys import key_hashes
from pipeline.stats import RunStats
from pipeline.tokens import count_tokens
from pipeline.user_tokenizers import extra_token_counts, extra_token_fields, tokenizer_identities


@dataclass
class TagBatch:
    """What taggers see: the batch's documents, the stored texts so far (a tagger that rewrites
    them replaces `texts`), the columns earlier taggers produced, the change trace and the stats."""

    docs: list[Document]
    texts: list[str]
    changes: list[list[str]]
    cfg: RunConfig
    stats: RunStats
    cols: dict[str, Any] = field(default_factory=dict)


class Tagger(Protocol):
    name: str

    def fields(self, cfg: RunConfig) -> list[pa.Field]:
        """Columns this tagger adds to the staged shards beyond the document columns."""
        ...

    def config(self, cfg: RunConfig) -> Any:
        """JSON-able settings the output depends on: part of the tag (resume) key."""
        ...

    def tag(self, batch: TagBatch) -> dict[str, Any]:
        """Columns for every document of the batch (lists or Arrow arrays, batch order)."""
        ...


@functools.cache
def language_tagger(cfg: LanguageConfig) -> LanguageTagger:
    """One tagger per process and language config (the fastText model loads once)."""
    return LanguageTagger(cfg)


class Language:
    """fastText + script rules, script shares, zh variant; then the opt-in t2s conversion (the
    variant is that of the text as written, before any conversion)."""

    name = "language"

    def fields(self, cfg: RunConfig) -> list[pa.Field]:
        return list(LANGUAGE_TAG_FIELDS)

    def config(self, cfg: RunConfig) -> Any:
        return {"language": cfg.language.model_dump(mode="json"), "t2s": cfg.normalize.t2s}

    def tag(self, batch: TagBatch) -> dict[str, Any]:
        lang = language_tagger(batch.cfg.language).tag(batch.texts)
        for d, tagged_lang in zip(batch.docs, lang["lang"]):
            if d.lang is not None:
                batch.stats.lang_hint[(d.source, d.lang, tagged_lang)] += 1
        if batch.cfg.normalize.t2s:
            batch.texts = self._to_simplified(batch, lang["zh_variant"])
        return lang

    @staticmethod
    def _to_simplified(batch: TagBatch, variants: list[str | None]) -> list[str]:
        """Opt-in Traditional -> Simplified for documents tagged zh-Hant (normalize.t2s)."""
        out = []
        for i, (text, variant) in enumerate(zip(batch.texts, variants)):
            if variant == "zh-Hant":
                converted = to_simplified(text)
                if converted != text:
                    batch.stats.normalize[(batch.docs[i].source, "t2s_converted")] += 1
                    batch.changes[i] = [*batch.changes[i], "t2s_converted"]
                text = converted
            out.append(text)
        return out


PII_FIELDS: list[pa.Field] = [pa.field(f"pii_{k}", pa.int32(), nullable=False) for k in PII_KINDS]


class Pii:
    """Counts of validated PII values per kind (filters/pii.py); in sources whose policy is
    `redact` the values are replaced in the stored text (and chat messages) here, before tokens,
    keys and signatures are computed."""

    name = "pii"

    def fields(self, cfg: RunConfig) -> list[pa.Field]:
        return list(PII_FIELDS)

    def config(self, cfg: RunConfig) -> Any:
        # only what changes the stored text: `tag` and `drop` are select decisions (refilter-able)
        return {"enabled": cfg.pii.enabled, "redact": sorted(s.name for s in cfg.sources if cfg.pii.policy_of(s.name) == "redact")}

    def tag(self, batch: TagBatch) -> dict[str, Any]:
        n = len(batch.texts)
        if not batch.cfg.pii.enabled:
            return {f.name: np.zeros(n, np.int32) for f in PII_FIELDS}
        redact = [batch.cfg.pii.policy_of(d.source) == "redact" for d in batch.docs]
        texts, counts = pii_counts(batch.texts, redact)
        for i, d in enumerate(batch.docs):
            found = [k for k in PII_KINDS if counts[k][i]]
            for k in found:
                batch.stats.pii[(d.source, k, "values")] += int(counts[k][i])
                batch.stats.pii[(d.source, k, "docs")] += 1
            if found and redact[i]:
                batch.stats.pii[(d.source, "any", "redacted_docs")] += 1
                batch.changes[i] = [*batch.changes[i], "pii_redacted"]
                if d.messages:
                    d.messages = [{"role": m["role"], "content": pii_counts([m["content"]], [True])[0][0]} for m in d.messages]
        batch.texts = texts
        return {f"pii_{k}": counts[k] for k in PII_KINDS}


class Tokens:
    """UTF-8 bytes, characters and BPE tokens of the stored text."""

    name = "tokens"

    def fields(self, cfg: RunConfig) -> list[pa.Field]:
        # n_bytes, n_chars, n_tokens are document columns; further tokenizers get n_tokens_<name>
        return extra_token_fields(cfg.tokens.tokenizer)

    def config(self, cfg: RunConfig) -> Any:
        return tokenizer_identities(cfg.tokens.tokenizer)  # file hashes: an edited tokenizer re-counts

    def tag(self, batch: TagBatch) -> dict[str, Any]:
        texts = batch.texts
        tokens = count_tokens(texts, batch.cfg.tokens.tokenizer[0])
        n_bytes = [len(t.encode("utf-8")) for t in texts]
        for d, b, t in zip(batch.docs, n_bytes, tokens):
            batch.stats.stage("normalize", d.source).keep(b, t)
        return {"n_bytes": n_bytes, "n_chars": [len(t) for t in texts], "n_tokens": tokens, **extra_token_counts(texts, batch.cfg.tokens.tokenizer)}


class ExactKeys:
    """Case-insensitive and case-sensitive exact-dedup keys."""

    name = "keys"

    def fields(self, cfg: RunConfig) -> list[pa.Field]:
        return list(KEY_FIELDS)

    def config(self, cfg: RunConfig) -> Any:
        return None  # depends on the text only (and the Unicode tables: in the key already)

    def tag(self, batch: TagBatch) -> dict[str, Any]:
        keys = list(map(key_hashes, batch.texts))  # one text's keys at a time (see key_hashes)
        return {"key_hash": [k for k, _ in keys], "key_hash_cs": [k for _, k in keys]}


class Quality:
    """The q_* quality signals (filters/quality_signals.py); thresholds live in select."""

    name = "quality"

    def fields(self, cfg: RunConfig) -> list[pa.Field]:
        return list(QUALITY_FIELDS)

    def config(self, cfg: RunConfig) -> Any:
        return None

    def tag(self, batch: TagBatch) -> dict[str, Any]:
        return quality_signals(batch.texts, batch.cols["lang"])


DECONTAM_FIELDS: list[pa.Field] = [
    pa.field("decon_ngrams", pa.int32(), nullable=False),
    pa.field("decon_span", pa.int32(), nullable=False),
    pa.field("decon_sets", pa.list_(pa.string()), nullable=False),
    pa.field("decon_match", pa.string()),
]


@functools.lru_cache(maxsize=4)
def _eval_index(blob: str, fingerprints: str) -> EvalIndex:
    from filters.decontam import load_eval_sets

    cfg = DecontaminationConfig.model_validate_json(blob)
    return EvalIndex.build(load_eval_sets(cfg), cfg.word_ngram, cfg.char_ngram)


def eval_index(cfg: DecontaminationConfig) -> EvalIndex:
    """One index per process and eval-set config (built once, ~0.5 s for cmrc2018 dev); keyed by
    the files' size and mtime too, so a long-lived process (`curate serve`) sees a new version."""
    from filters.decontam import eval_fingerprints

    fps = orjson.dumps(eval_fingerprints(cfg), option=orjson.OPT_SORT_KEYS).decode()
    return _eval_index(cfg.model_dump_json(include={"eval_sets", "word_ngram", "char_ngram"}), fps)


class Decontamination:
    """n-gram overlap with the configured eval sets (filters/decontam.py); the threshold lives in
    select (`decontamination.min_ngrams`)."""

    name = "decontamination"

    def fields(self, cfg: RunConfig) -> list[pa.Field]:
        return list(DECONTAM_FIELDS)

    def config(self, cfg: RunConfig) -> Any:
        from filters.decontam import eval_fingerprints

        d = cfg.decontamination
        if not d.eval_sets:
            return None
        return {"word_ngram": d.word_ngram, "char_ngram": d.char_ngram, "eval_sets": eval_fingerprints(d)}

    def tag(self, batch: TagBatch) -> dict[str, Any]:
        n = len(batch.texts)
        if not batch.cfg.decontamination.eval_sets:
            return {"decon_ngrams": [0] * n, "decon_span": [0] * n, "decon_sets": [[] for _ in range(n)], "decon_match": [None] * n}
        return eval_index(batch.cfg.decontamination).tag(batch.texts)


class MinHash:
    """The MinHash signature (pipeline/dedup/minhash.py); absent when dedup is off."""

    name = "minhash"

    def fields(self, cfg: RunConfig) -> list[pa.Field]:
        return [pa.field("minhash", minhash_type(cfg.dedup.num_perm), nullable=False)] if cfg.dedup.enabled else []

    def config(self, cfg: RunConfig) -> Any:
        return cfg.dedup.model_dump(mode="json", include={"enabled", "num_perm", "word_ngram", "char_ngram", "seed"})

    def tag(self, batch: TagBatch) -> dict[str, Any]:
        if not batch.cfg.dedup.enabled:
            return {}
        sig = signatures(batch.texts, batch.cfg.dedup)
        return {"minhash": pa.FixedSizeListArray.from_arrays(pa.array(sig.ravel(), pa.uint32()), batch.cfg.dedup.num_perm)}


#: The taggers `tag` runs, in order (text rewriters first). Append here to add one.
TAGGERS: list[Tagger] = [Language(), Pii(), Tokens(), ExactKeys(), Quality(), Decontamination(), MinHash()]


def tag_fields(cfg: RunConfig) -> list[pa.Field]:
    """Columns of the staged shards beyond the document columns and provenance, in tagger order."""
    return [f for t in TAGGERS for f in t.fields(cfg)]


def staged_schema(cfg: RunConfig) -> pa.Schema:
    """The staged shard layout: document columns, provenance, then every tagger's columns."""
    return pa.schema(DOC_FIELDS + PROVENANCE_FIELDS + tag_fields(cfg))


def tagger_configs(cfg: RunConfig) -> dict[str, Any]:
    """tagger name -> the settings its output depends on (the tag key's tagger part)."""
    return {t.name: t.config(cfg) for t in TAGGERS}
