"""The Hub dataset card (OUT/README.md): its YAML header and body, rendered from the run's files.

The card is rebuilt from `stats/stats.json` and `manifest.json` alone (never from the Parquet files),
so `curate card OUT` gives the same bytes whenever those two files are the same, even where the data
files are not at hand. It is built with huggingface_hub's card classes, so its YAML header is what the
Hub parses: licences, languages, size category and one `configs` entry per source (the Hub viewer and
`datasets.load_dataset(OUT, name=<source>)` read the data files through them). Uploading OUT is
pipeline/hub_push.py's.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import DatasetCard, DatasetCardData

from pipeline.layout import Layout, Store, as_layout

CARD_NAME = "README.md"

#: The combined config over every source (`default: true`, so `load_dataset(OUT)` without a name
#: loads all kept documents: every shard has the same schema).
ALL_CONFIG = "all"

#: Licence identifiers the Hub accepts in a card (hub-docs, docs/hub/repositories-licenses.md).
HUB_LICENSES: frozenset[str] = frozenset(
    """apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
    bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc
    cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0
    cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0
    cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1
    agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc lppl-1.3c ms-pl mpl-2.0 odc-by odbl openrail++
    osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr deepfloyd-if-license llama2 gemma unknown
    other""".split()
)

#: Common spellings (after lower-casing, spaces/underscores -> "-", "license" dropped) -> Hub id.
_LICENSE_ALIASES = {
    "apache-2": "apache-2.0",
    "apache2": "apache-2.0",
    "apache2.0": "apache-2.0",
    "cc0": "cc0-1.0",
    "cc-0": "cc0-1.0",
    "cc-zero": "cc0-1.0",
    "odc-by-1.0": "odc-by",
    "odbl-1.0": "odbl",
    "pddl-1.0": "pddl",
    "gpl-2": "gpl-2.0",
    "gpl-3": "gpl-3.0",
    "agpl-3": "agpl-3.0",
}

#: The Hub's size bins, by upper bound of the number of rows (`size_categories`).
SIZE_BINS: tuple[tuple[int, str], ...] = (
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
    (10**10, "1B<n<10B"),
    (10**11, "10B<n<100B"),
    (10**12, "100B<n<1T"),
)

STAGE_NOTES = {
    "read": "parse the input (malformed lines are rejected with file, line and the raw line)",
    "normalize": "normalize the stored text (NFC, control/zero-width characters, whitespace); too short documents are rejected",
    "language": "tag the language (fastText lid.176 + script rules) and keep the configured languages",
    "quality": "quality rules on the stored signals (Gopher, C4, FineWeb, Chinese-aware rules), per-source profile",
    "contamination": "n-gram overlap with benchmark eval sets (13-word / 8-character n-grams); dropped, or flagged in label_only mode",
    "pii": "documents with personal data or secrets in sources whose PII policy is `drop`",
    "dedup": "exact (case-insensitive key) and MinHash near-duplicates across all sources; one keeper per cluster",
}


class CardError(ValueError):
    """OUT cannot give a card: stats.json or manifest.json is missing, unreadable or inconsistent.
    The message names the file and the field at fault."""


def hub_license(raw: str | None) -> tuple[str, str | None]:
    """A configured licence -> (Hub licence id, why it is not the configured one or None).
    Unstated licences become `unknown`, unrecognised ones `other`: both are Hub ids, and the card's
    body says which source they come from."""
    if raw is None or not raw.strip():
        return "unknown", "no `license` in the source's config"
    key = re.sub(r"[\s_]+", "-", raw.strip().lower())
    key = "-".join(t for t in key.split("-") if t not in ("license", "licence", ""))
    key = _LICENSE_ALIASES.get(key, key)
    if key in HUB_LICENSES:
        return key, None
    return "other", f"`{raw}` is not a Hub licence id"


def size_category(n_rows: int) -> str:
    """The Hub's size bin for a row count (1,000 rows is `1K<n<10K`: bins are [lower, upper))."""
    for upper, label in SIZE_BINS:
        if n_rows < upper:
            return label
    return "n>1T"


def _iso_codes() -> frozenset[str] | None:
    """ISO 639-1/-3 codes shipped with `datasets` (its old card validator's list); None where that
    file is absent, and then codes are only checked for their shape."""
    # found without importing `datasets` (~1 s with pandas): the file sits in its package folder
    spec = importlib.util.find_spec("datasets")
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        text = (Path(next(iter(spec.submodule_search_locations))) / "utils" / "resources" / "languages.json").read_text(encoding="utf-8")
    except OSError:
        return None
    return frozenset(k for k in json.loads(text) if re.fullmatch(r"[a-z]{2,3}", k))


def hub_languages(codes: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split tagged language codes into ISO 639 codes the Hub accepts and the rest (e.g. fastText's
    `eml` or `bh`), which the card lists in its body instead of the YAML header."""
    known = _iso_codes()
    valid, dropped = [], []
    for code in sorted(set(codes)):
        ok = re.fullmatch(r"[a-z]{2,3}", code) is not None and (known is None or code in known)
        (valid if ok else dropped).append(code)
    return valid, dropped


def _read_json(store: Store, path: str) -> dict[str, Any]:
    if not store.isfile(path):
        raise CardError(f"{store.display(path)}: not found (a card is made from the outputs of `curate run`, `curate shard` or `curate refilter`)")
    try:
        data = json.loads(store.read_bytes(path))
    except ValueError as e:
        raise CardError(f"{store.display(path)}: not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise CardError(f"{store.display(path)}: expected a JSON object")
    return data


def _field(doc: dict[str, Any], dotted: str, path: Path) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise CardError(f"{path}: missing field `{dotted}`")
        value = value[part]
    return value


@dataclass(frozen=True)
class SourceInfo:
    """One source as the card shows it."""

    name: str
    type: str
    license: str | None
    hub_license: str
    license_note: str | None
    lang: str | None
    subset: str | None
    input: str
    sizes: dict[str, dict[str, Any]]  # lang -> sizes.by_source entry (kept documents)

    @property
    def rows(self) -> int:
        return sum(int(s["docs"]) for s in self.sizes.values())


@dataclass(frozen=True)
class CardInputs:
    """What the card is made of, read and cross-checked from OUT."""

    stats: dict[str, Any]
    manifest: dict[str, Any]
    sources: list[SourceInfo]

    @property
    def with_data(self) -> list[SourceInfo]:
        return [s for s in self.sources if s.rows > 0]


def _source_input(src: dict[str, Any]) -> str:
    if src.get("hub"):
        hub = src["hub"]
        return f"Hub `{hub.get('path')}`" + (f" ({hub['name']})" if hub.get("name") else "")
    paths = src.get("paths") or []
    return ", ".join(f"`{p}`" for p in paths) or "-"


def read_inputs(out: Layout | str | Path) -> CardInputs:
    """Reads stats.json and manifest.json and checks that they describe the same data: the rows of
    the manifest's files under data/<source>/<lang>/ equal the kept documents in stats.json."""
    lay = as_layout(out)
    stats, manifest = _read_json(lay.out, lay.stats_json()), _read_json(lay.out, lay.manifest())
    stats_path, manifest_path = lay.out.display(lay.stats_json()), lay.out.display(lay.manifest())
    by_source: dict[str, dict[str, Any]] = _field(stats, "sizes.by_source", stats_path)
    _field(stats, "sizes.total.docs", stats_path)
    config_sources = _field(manifest, "config.sources", manifest_path)
    files = _field(manifest, "files", manifest_path)

    rows: dict[tuple[str, str], int] = {}
    for i, f in enumerate(files):
        if not isinstance(f, dict) or not {"path", "rows"} <= f.keys():
            raise CardError(f"{manifest_path}: `files.{i}` needs `path` and `rows`")
        parts = str(f["path"]).split("/")
        if parts[0] == "data":
            if len(parts) != 4:
                raise CardError(f"{manifest_path}: `files.{i}.path` {f['path']!r} is not data/<source>/<lang>/<file>")
            rows[(parts[1], parts[2])] = rows.get((parts[1], parts[2]), 0) + int(f["rows"])

    names = [s.get("name") for s in config_sources]
    for src in by_source:
        if src not in names:
            raise CardError(f"{stats_path}: `sizes.by_source.{src}` is not a source of {manifest_path} (`config.sources`)")
    for (src, lang), n in sorted(rows.items()):
        docs = by_source.get(src, {}).get(lang, {}).get("docs", 0)
        if docs != n:
            raise CardError(
                f"{stats_path}: `sizes.by_source.{src}.{lang}.docs` is {docs} but {manifest_path} lists {n} rows "
                f"under data/{src}/{lang}/: the two files come from different runs"
            )
    for src, langs in by_source.items():
        for lang, s in langs.items():
            if s.get("docs", 0) and (src, lang) not in rows:
                raise CardError(f"{stats_path}: `sizes.by_source.{src}.{lang}` has {s['docs']} documents but {manifest_path} lists no file under data/{src}/{lang}/")

    sources = []
    for i, src in enumerate(config_sources):
        for key in ("name", "type"):
            if not src.get(key):
                raise CardError(f"{manifest_path}: missing field `config.sources.{i}.{key}`")
        hub_id, note = hub_license(src.get("license"))
        sources.append(
            SourceInfo(
                name=src["name"],
                type=src["type"],
                license=src.get("license"),
                hub_license=hub_id,
                license_note=note,
                lang=src.get("lang"),
                subset=src.get("subset"),
                input=_source_input(src),
                sizes=dict(sorted(by_source.get(src["name"], {}).items())),
            )
        )
    return CardInputs(stats=stats, manifest=manifest, sources=sources)


def data_glob(source: str | None) -> str:
    """The data_files glob of a config: one source, or every source (None)."""
    return f"data/{source}/*/*.parquet" if source else "data/*/*/*.parquet"


def card_configs(inputs: CardInputs) -> list[dict[str, Any]]:
    """One config per source with kept documents (a config whose glob matches nothing would break the
    viewer and `load_dataset`), then `all` over every source as the default."""
    configs: list[dict[str, Any]] = [
        {"config_name": s.name, "data_files": [{"split": "train", "path": data_glob(s.name)}]} for s in inputs.with_data
    ]
    if configs and ALL_CONFIG not in {s.name for s in inputs.sources}:
        configs.append({"config_name": ALL_CONFIG, "data_files": [{"split": "train", "path": data_glob(None)}], "default": True})
    return configs


def _n(x: int | float | None) -> str:
    return "-" if x is None else f"{x:,}"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]], numbers: range = range(0)) -> list[str]:
    """A Markdown table; the columns in `numbers` are right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i in numbers else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _licences(inputs: CardInputs) -> str | list[str]:
    ids = sorted({s.hub_license for s in inputs.sources})
    return ids[0] if len(ids) == 1 else ids


def _pretty_name(langs: list[str], inputs: CardInputs) -> str:
    n = len(inputs.sources)
    return f"Curated {'/'.join(langs) or 'text'} corpus ({n} source{'s' if n != 1 else ''})"


def source_revisions(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Hub repos the inputs came from: repo -> {commits, files} (from the manifest's fingerprints)."""
    out: dict[str, dict[str, Any]] = {}
    for fp in (manifest.get("inputs") or {}).values():
        if isinstance(fp, dict) and fp.get("kind") == "hub" and fp.get("repo"):
            entry = out.setdefault(str(fp["repo"]), {"commits": set(), "files": 0})
            entry["commits"].add(str(fp.get("commit")))
            entry["files"] += 1
    return out


def card_data(inputs: CardInputs) -> DatasetCardData:
    """The YAML header, through huggingface_hub's DatasetCardData (what the Hub parses)."""
    by_lang = inputs.stats["sizes"].get("by_lang", {})
    langs, _ = hub_languages(lang for lang, s in by_lang.items() if s.get("docs", 0))
    total = int(inputs.stats["sizes"]["total"]["docs"])
    extra: dict[str, Any] = {}
    others = sorted({s.license for s in inputs.sources if s.hub_license == "other" and s.license})
    if len(others) == 1:
        # the Hub asks for a name of an `other` licence (a slug); several cannot be named in one field
        extra["license_name"] = re.sub(r"[^a-z0-9.]+", "-", others[0].lower()).strip("-")
    configs = card_configs(inputs)
    if configs:
        extra["configs"] = configs
    revisions = source_revisions(inputs.manifest)
    if revisions:
        extra["source_datasets"] = sorted(revisions)
    return DatasetCardData(
        language=langs or None,
        license=_licences(inputs),
        multilinguality="multilingual" if len(langs) > 1 else "monolingual",
        size_categories=[size_category(total)],
        task_categories=["text-generation"],
        pretty_name=_pretty_name(langs, inputs),
        **extra,
    )


#: The card's prose and section order (Jinja, rendered by huggingface_hub's `DatasetCard.from_template`);
#: the tables, lists and conditional notes come from `_card_fields`.
CARD_TEMPLATE = Path(__file__).with_name("card_template.md")


def _card_fields(inputs: CardInputs, data: DatasetCardData) -> dict[str, Any]:
    """What the template fills in: numbers, tables (Markdown lines joined) and the notes that
    depend on the run (empty string or list: the template leaves the sentence out)."""
    stats, manifest = inputs.stats, inputs.manifest
    cfg = manifest.get("config", {})
    total = stats["sizes"]["total"]
    tokens_cfg = cfg.get("tokens", {})
    # `tokenizer` (a list; the first gives n_tokens) since the tokenizer choice; `encoding` before
    encoding = tokens_cfg.get("encoding") or ((stats.get("report_settings") or {}).get("tokenizers") or [{}])[0].get("label") or (tokens_cfg.get("tokenizer") or ["?"])[0]
    by_lang = stats["sizes"].get("by_lang", {})
    _, dropped_langs = hub_languages(lang for lang, s in by_lang.items() if s.get("docs", 0))
    configs = data.to_dict().get("configs", [])
    summary = (
        f"{_n(total['docs'])} documents ({_n(total['bytes'])} UTF-8 bytes, {_n(total.get('tokens'))} BPE tokens with "
        f"`{encoding}`) from {len(inputs.sources)} sources"
        + (", in " + ", ".join(f"{lang} ({_n(s['docs'])} documents)" for lang, s in sorted(by_lang.items())) if by_lang else "")
        + ". Made by the `curate` pipeline"
        + (f" {stats['version']}" if stats.get("version") else "")
        + (f", config hash `{manifest['config_hash'][:16]}`" if manifest.get("config_hash") else "")
        + ": read, normalize, tag (language, quality signals, MinHash, tokens), select, deduplicate."
    )

    rows_of = {s.name: s for s in inputs.sources}
    config_rows = []
    for c in configs:
        src = rows_of.get(c["config_name"]) if not c.get("default") else None
        config_rows.append(
            [
                f"`{c['config_name']}`" + (" (default)" if c.get("default") else ""),
                f"`{c['data_files'][0]['path']}`",
                _n(src.rows if src else int(total["docs"])),
                ", ".join(src.sizes if src else sorted(by_lang)),
            ]
        )

    size_rows: list[list[object]] = []
    for s in inputs.sources:
        for lang, z in s.sizes.items():
            size_rows.append([f"`{s.name}`", lang, _n(z["docs"]), _n(z["bytes"]), _n(z.get("chars")), _n(z.get("words")), _n(z.get("tokens"))])
    for lang, z in sorted(by_lang.items()):
        size_rows.append(["**all**", lang, _n(z["docs"]), _n(z["bytes"]), _n(z.get("chars")), _n(z.get("words")), _n(z.get("tokens"))])
    size_rows.append(["**all**", "**all**", _n(total["docs"]), _n(total["bytes"]), _n(total.get("chars")), _n(total.get("words")), _n(total.get("tokens"))])

    revisions = source_revisions(inputs.manifest)
    stage_rows = []
    for stage, block in stats.get("stages", {}).items():
        t = block.get("total", {})
        reasons = sorted(t.get("rejected_by_reason", {}).items(), key=lambda kv: (-kv[1], kv[0]))
        stage_rows.append(
            [f"`{stage}`", STAGE_NOTES.get(stage, "-"), _n(t.get("docs_in")), _n(t.get("docs_kept")), _n(t.get("docs_rejected")), ", ".join(f"{r} {n}" for r, n in reasons) or "-"]
        )
    packages = manifest.get("packages")
    return {
        "title": data.pretty_name,
        "summary": summary,
        "has_default": any(c.get("default") for c in configs),
        "first_config": repr(inputs.with_data[0].name) if inputs.with_data else "",
        "config_table": "\n".join(_table(["config", "data files", "rows", "languages"], config_rows, numbers=range(2, 3))),
        "empty_sources": ", ".join(f"`{s.name}`" for s in inputs.sources if s.rows == 0),
        "all_is_a_source": ALL_CONFIG in rows_of,
        "all_config": ALL_CONFIG,
        "encoding": encoding,
        "size_table": "\n".join(_table(["source", "language", "documents", "bytes", "characters", "words", "tokens"], size_rows, numbers=range(2, 7))),
        "licence_table": "\n".join(
            _table(
                ["source", "type", "subset", "language hint", "licence (config)", "licence (Hub id)", "input"],
                ([f"`{s.name}`", s.type, s.subset or "-", s.lang or "-", s.license or "-", f"`{s.hub_license}`", s.input] for s in inputs.sources),
            )
        ),
        "licence_notes": "; ".join(f"`{s.name}`: {s.license_note}" for s in inputs.sources if s.license_note),
        "revisions_table": "\n".join(
            _table(
                ["dataset", "revision", "files"],
                ([f"`{repo}`", ", ".join(f"`{c}`" for c in sorted(e["commits"])), str(e["files"])] for repo, e in sorted(revisions.items())),
                numbers=range(2, 3),
            )
        )
        if revisions
        else "",
        "stage_table": "\n".join(_table(["stage", "what", "in", "kept", "rejected", "reasons"], stage_rows, numbers=range(2, 5))),
        "safety": "\n".join(_safety_section(stats, cfg)),
        "config_yaml": yaml.safe_dump(cfg, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100).rstrip(),
        "packages": ", ".join(f"{k} {v}" for k, v in sorted(packages.items())) if packages else "",
        "limitations": _limitations(inputs, cfg, stats, dropped_langs),
    }


def _limitations(inputs: CardInputs, cfg: dict[str, Any], stats: dict[str, Any], dropped_langs: list[str]) -> list[str]:
    """The card's "Known limitations": what this run's settings and results do not promise."""
    lim = [
        "Language tags come from fastText lid.176 with script rules; a document mixing languages gets one tag, "
        "and short or code-heavy documents are tagged less reliably.",
    ]
    for src, hint in sorted(stats.get("lang_hint", {}).items()):
        if isinstance(hint, dict) and hint.get("agreement") is not None and hint["agreement"] < 1:
            lim.append(f"`{src}`: {hint['agreement']:.2%} of its documents are tagged with the language the source claims.")
    if dropped_langs:
        lim.append("Language codes without an ISO 639 code on the Hub, left out of the header: " + ", ".join(f"`{c}`" for c in dropped_langs) + ".")
    quality = cfg.get("quality", {})
    if quality.get("enabled", True):
        lim.append(
            f"Quality rules (mode `{quality.get('mode', 'filter')}`) are heuristics from Gopher, C4 and FineWeb with "
            "Chinese-aware rules; they drop some good documents and keep some poor ones."
        )
    else:
        lim.append("Quality rules were switched off for this run.")
    dedup = cfg.get("dedup", {})
    eval_sets = (cfg.get("decontamination") or {}).get("eval_sets") or []
    if dedup.get("enabled", True):
        lim.append(
            f"Duplicates are removed within this run only (near-duplicate threshold {dedup.get('threshold', '?')}, estimated "
            "Jaccard of MinHash signatures), not against other corpora"
            + ("; overlap with benchmarks is the decontamination step's (above)." if eval_sets else " or benchmarks.")
        )
    else:
        lim.append("Deduplication was switched off for this run.")
    return lim + [
        _pii_limitation(cfg.get("pii") or {}, [s.name for s in inputs.sources]),
        "Byte counts do not compare across languages (Chinese needs about 3 UTF-8 bytes per character); compare characters or tokens.",
        "Only a `train` split is provided.",
    ]


def _pii_limitation(pii_cfg: dict[str, Any], sources: list[str]) -> str:
    """What the card may promise about personal data: only what the PII policies did."""
    if not pii_cfg.get("enabled", True):
        return "No personal information is removed or masked (PII detection was off for this run)."
    policies = {src: (pii_cfg.get("policies") or {}).get(src, pii_cfg.get("policy", "tag")) for src in sources}
    acted = {src: p for src, p in sorted(policies.items()) if p in ("redact", "drop")}
    if not acted:
        return "Personal data is counted, not removed or masked (PII policy `tag`); detectors miss some of it."
    done = ", ".join(f"`{src}` ({'redacted' if p == 'redact' else 'documents dropped'})" for src, p in acted.items())
    kept = [src for src, p in sorted(policies.items()) if p not in ("redact", "drop")]
    return (
        f"Personal data the detectors find is acted on in {done}"
        + (f"; {', '.join(f'`{k}`' for k in kept)} keep it (policy `tag`)" if kept else "")
        + ". Detectors miss some personal data (names, addresses), so none of it is guaranteed removed."
    )


def _safety_section(stats: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    """"What was removed": PII found per source and kind with the source's policy, and the
    documents overlapping each benchmark eval set (stats.json `pii`, `contamination`)."""
    out = ["### Personal data and benchmark contamination", ""]
    pii_cfg = cfg.get("pii") or {}
    pii = stats.get("pii") or {}
    if not pii_cfg.get("enabled", True):
        out += ["PII detection was off for this run."]
    elif not pii:
        out += ["No personal data found (emails, phone numbers, Chinese resident ID numbers, IP addresses, payment cards, secrets)."]
    else:
        what = {"tag": "counted, kept", "redact": "replaced by placeholders (`<EMAIL>`, `<PHONE>`, ...)", "drop": "documents dropped"}
        rows = []
        for src, kinds in sorted(pii.items()):
            policy = (pii_cfg.get("policies") or {}).get(src, pii_cfg.get("policy", "tag"))
            for kind, units in sorted(kinds.items()):
                if kind == "any":
                    continue
                rows.append([f"`{src}`", kind, _n(units.get("values", 0)), _n(units.get("docs", 0)), f"{policy}: {what.get(policy, policy)}"])
        out += ["Personal data found by the PII detectors (validated matches), and what was done with it:", ""]
        out += _table(["source", "kind", "values", "documents", "policy"], rows, numbers=range(2, 4))
    contamination = stats.get("contamination") or {}
    dcfg = cfg.get("decontamination") or {}
    sets = [s.get("name") for s in dcfg.get("eval_sets") or []]
    out += [""]
    if not sets:
        out += ["No decontamination against benchmark eval sets was run."]
    else:
        mode = dcfg.get("mode", "filter")
        out += [f"Decontaminated against {', '.join(f'`{n}`' for n in sets)} (`{mode}`: "
                + ("overlapping documents are dropped, `rejected/contamination/`" if mode == "filter" else "overlapping documents are flagged and KEPT")
                + "):", ""]
        # plain eval-set and kind names: a `name` | `glob` | rows row is the Configs table's form
        rows = [[f"`{src}`", name, _n(u.get("docs", 0)), _n(u.get("tokens", 0))] for src, by in sorted(contamination.items()) for name, u in sorted(by.items())]
        out += _table(["source", "eval set", "documents", "tokens"], rows, numbers=range(2, 4)) if rows else ["No document overlaps an eval set."]
    return out


def build_card(out: Layout | str | Path) -> DatasetCard:
    """The card of OUT as a huggingface_hub DatasetCard (header parsed back by the card class)."""
    inputs = read_inputs(out)
    data = card_data(inputs)
    return DatasetCard.from_template(data, template_path=str(CARD_TEMPLATE), **_card_fields(inputs, data))


def write_card(out: Layout | str | Path) -> Path | str:
    """Writes OUT/README.md atomically and returns its path. Same stats.json + manifest.json -> same bytes."""
    lay = as_layout(out)
    text = str(build_card(lay))
    lay.out.write_bytes(lay.card(), text.encode("utf-8"))
    return Path(lay.card()) if lay.out.local else lay.out.display(lay.card())


#: Top-level folders of OUT that a push owns on the Hub: files there that this OUT does not hold
#: are deleted in the same commit (a shard from an earlier push would otherwise match the globs).
