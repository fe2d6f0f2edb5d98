"""The `curate` command: a thin click layer over the library (and, for `run`, the Prefect flow)."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import click

from pipeline.config import Casing, ConfigError, InputFormat, NormalizeConfig, PiiPolicy, RunConfig, SourceConfig, SourceType, load_config, parse_config

if TYPE_CHECKING:  # the pipeline (pyarrow, fastText, tiktoken, ...) loads only when a command runs: `--help` stays fast
    from pipeline.runner import RunSummary
    from pipeline.sources import InputShard
    from pipeline.tag import Progress

log = logging.getLogger("curate")


class ProgressBar:
    """Documents and MB/s per shard; refreshed at most every 0.25 s so it costs nothing per document."""

    def __init__(self, shard: InputShard, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(desc=shard.name, unit=" docs", disable=not enabled, leave=False, dynamic_ncols=True)
        self.start = time.perf_counter()
        self.last = 0.0
        self.docs = 0
        self.bytes = 0

    def __call__(self, docs: int, n_bytes: int) -> None:
        self.docs += docs
        self.bytes += n_bytes
        now = time.perf_counter()
        if now - self.last >= 0.25:
            self.bar.update(self.docs - self.bar.n)
            self.bar.set_postfix_str(f"{self.bytes / 1e6 / max(now - self.start, 1e-9):.1f} MB/s", refresh=False)
            self.last = now

    def close(self) -> None:
        self.bar.update(self.docs - self.bar.n)
        self.bar.close()


def _choices(field: str) -> tuple[str, ...]:
    """The values a source field's Literal allows: the CLI offers exactly what the config accepts."""
    return get_args(SourceConfig.model_fields[field].annotation)


def _quality_profiles() -> list[str]:
    from pipeline.quality_rules import PROFILES  # pure data, cheap to import

    return list(PROFILES)


def _progress_factory(enabled: bool):  # type: ignore[no-untyped-def]
    bars: list[ProgressBar] = []

    def make(shard: InputShard) -> Progress:
        for b in bars:
            b.close()
        bars.clear()
        bar = ProgressBar(shard, enabled)
        bars.append(bar)
        return bar

    def close_all() -> None:
        for b in bars:
            b.close()

    return make, close_all


def _quality_lines(d: dict[str, object], cfg: RunConfig) -> list[str]:
    """Per source: the quality profile it got and why, and how many documents each rule dropped
    (a `generic` source silently getting the full `web` rules surprised users: issue #19, item 5)."""
    from pipeline.quality_rules import default_profile

    block = d["stages"].get("quality", {}).get("by_source", {})  # type: ignore[attr-defined]
    lines = []
    for src in cfg.sources:
        if not cfg.quality.enabled:
            lines.append(f"  quality {src.name}: off (quality.enabled: false)")
            continue
        if src.name in cfg.quality.profiles:
            profile, why = cfg.quality.profiles[src.name], "set in quality.profiles / --quality-profile"
        else:
            profile = default_profile(src.type, src.subset)
            why = f"default for source type {src.type}" + (f", subset {src.subset}" if src.subset else "")
        reasons = block.get(src.name, {}).get("rejected_by_reason", {})
        drops = ", ".join(f"{k.removeprefix('quality:')}={v}" for k, v in reasons.items()) or "none"
        lines.append(f"  quality {src.name}: profile {profile} ({why}); dropped by rule: {drops}")
    return lines


def _summary_lines(summary: RunSummary, cfg: RunConfig | None = None) -> list[str]:
    d = summary.stats.to_dict()
    lines = []
    for stage, block in d["stages"].items():
        t = block["total"]
        reasons = ", ".join(f"{k}={v}" for k, v in t["rejected_by_reason"].items()) or "-"
        lines.append(f"  {stage:<10} in {t['docs_in']:>8}  kept {t['docs_kept']:>8}  rejected {t['docs_rejected']:>6} ({reasons})")
    if cfg is not None:
        lines += _quality_lines(d, cfg)
    for src, langs in d["sizes"]["by_source"].items():
        for lang, s in langs.items():
            lines.append(f"  {src}/{lang}: {s['docs']} docs, {s['bytes'] / 1e6:.2f} MB, {s['chars']} chars, {s['tokens']} tokens")
    return lines


def _report(summary: RunSummary, cfg: RunConfig | None = None) -> None:
    click.echo(f"wrote {summary.out} ({len(summary.files)} Parquet files)")
    for line in _summary_lines(summary, cfg):
        click.echo(line)


def _lock_held() -> type[Exception]:
    """pipeline.lock.LockHeld, imported when an error is being handled (keeps `--help` fast)."""
    from pipeline.lock import LockHeld

    return LockHeld


def _fail(e: Exception, where: object = None) -> click.ClickException:
    from pipeline.errors import describe_error

    return click.ClickException(describe_error(e, str(where) if where is not None else None))


_ALLOW_EMPTY_HELP = (
    "Exit 0 even when the run keeps no document or a source yields none (default: exit status 1 "
    "with the source, files and top drop reasons; OUT is written either way). Config: checks.allow_empty."
)


def _check_outcome(summary: RunSummary, allow_empty: bool) -> None:
    """Never exit 0 when nothing was produced (unless allowed): see pipeline/outcome.py."""
    from pipeline.outcome import EmptyOutputError, check_outcome

    try:
        for problem in check_outcome(summary.stats, summary.out, allow_empty):
            click.echo(f"warning: {problem}", err=True)
    except EmptyOutputError as e:
        raise _fail(e) from e


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log every shard and step (INFO level).")
@click.version_option(package_name="curate")
def main(verbose: bool) -> None:
    """Curate LM training data: read RedPajama, oasst1 and Chinese corpora, normalize, tag, select and
    write Hub-layout Parquet shards with rejects, statistics and a manifest.

    Output layout: OUT/data/<source>/<lang>/train-*.parquet, OUT/rejected/<stage>/, OUT/stats/stats.json,
    OUT/manifest.json, OUT/.staging/ (tagged shards kept for resume; not part of the dataset)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # Prefect (imported only by run/serve) reads these at import: quiet task logs unless -v, and no
    # telemetry; a value the user set wins
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


_OUT_HELP = "Output directory, or an object store URL (s3://bucket/run, gs://bucket/run); created if missing."
_STAGING_HELP = (
    "Where intermediates go (default OUT/.staging): a local scratch folder or a store URL. Dask workers on "
    "other machines need it on a store they all reach."
)
_WAIT_HELP = "If another run holds OUT's lock, wait for it instead of failing."

_WORKERS_HELP = (
    "Run shard tasks on a local Dask cluster of N worker processes (one thread each); "
    "default: one task at a time in this process."
)
_DASK_ADDRESS_HELP = (
    "Run tasks on an existing Dask cluster (tcp://host:8786; `dask scheduler` + `dask worker` per machine). "
    "Workers need this package and must reach PREFECT_API_URL; with inputs and OUT on a store (s3://...) they need no shared filesystem, else the same paths as this machine."
)


def _check_dask_options(workers: int | None, dask_address: str | None) -> None:
    if workers is not None and dask_address:
        raise click.UsageError("--workers and --dask-address exclude each other")


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, help=_OUT_HELP)
@click.option("--workers", type=click.IntRange(min=1), default=None, help=_WORKERS_HELP)
@click.option("--dask-address", "dask_address", default=None, metavar="tcp://HOST:PORT", help=_DASK_ADDRESS_HELP)
@click.option("--staging", default=None, help=_STAGING_HELP)
@click.option("--wait", is_flag=True, help=_WAIT_HELP)
@click.option("--allow-empty", "allow_empty", is_flag=True, help=_ALLOW_EMPTY_HELP)
def run(config: Path, out: str, workers: int | None, dask_address: str | None, staging: str | None, wait: bool, allow_empty: bool) -> None:
    """Run the pipeline described by CONFIG (YAML) as one Prefect flow run: tag tasks over input
    shards, cluster, select tasks over tagged shards, finish.

    Uses Prefect's ephemeral mode unless PREFECT_API_URL points at a server; with Dask and no
    PREFECT_API_URL, a temporary local Prefect server serves the run and all workers. Shards
    already tagged with the same config and inputs are skipped (see OUT/.staging)."""
    _check_dask_options(workers, dask_address)
    try:
        cfg = load_config(config)  # fail fast, with the key at fault, before Prefect starts
    except ConfigError as e:
        raise _fail(e) from e
    from flows.workers import run_curation  # Prefect is imported only for run and serve
    from flows.prefect_api import ServerStartError
    from pipeline.lock import LockHeld

    try:
        outcome = run_curation(str(config), out, workers=workers, address=dask_address, staging=staging, wait=wait)
    except (OSError, ValueError, ServerStartError, LockHeld) as e:
        raise _fail(e, out) from e
    summary = outcome.summary
    click.echo(f"flow run: {outcome.flow_run_id}")
    click.echo(f"tag: {outcome.shards - len(summary.skipped_shards)} shards tagged, {len(summary.skipped_shards)} skipped (done, same key)")
    click.echo("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in outcome.seconds.items()))
    _report(summary, cfg)
    _check_outcome(summary, allow_empty or cfg.checks.allow_empty)


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, help="Output directory or store URL of every scheduled run (each run waits for OUT's lock).")
@click.option("--cron", default=None, help='Cron schedule of the runs, e.g. "0 3 * * *" (03:00 UTC every day).')
@click.option("--interval", type=click.FloatRange(min=1), default=None, help="Run every this many seconds instead of a cron schedule.")
@click.option("--name", default=None, help="Deployment name (default: the config's file stem); the deployment is curate/NAME.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help=_WORKERS_HELP)
@click.option("--dask-address", "dask_address", default=None, metavar="tcp://HOST:PORT", help=_DASK_ADDRESS_HELP)
def serve(config: Path, out: str, cron: str | None, interval: float | None, name: str | None, workers: int | None, dask_address: str | None) -> None:
    """Register CONFIG as a scheduled Prefect deployment and serve it until stopped (Ctrl-C, SIGTERM).

    The Prefect server's scheduler creates the runs and this process executes them, one at a time.
    Needs a server that keeps running: PREFECT_API_URL (`make server`: http://127.0.0.1:4200/api,
    or a remote server) or a Prefect Cloud login.

    Example: curate serve data/configs/sample.yaml --out out/ --cron "0 3 * * *" --name nightly"""
    _check_dask_options(workers, dask_address)
    if (cron is None) == (interval is None):
        raise click.UsageError("give exactly one of --cron and --interval")
    try:
        load_config(config)
    except ConfigError as e:
        raise _fail(e) from e
    from flows.schedules import NoServerError, serve_curation

    try:
        serve_curation(config, out, cron=cron, interval=interval, name=name, workers=workers, address=dask_address)
    except (NoServerError, ValueError) as e:
        raise _fail(e) from e


_INPUT_OPTIONS = [
    click.argument("inputs", nargs=-1, required=True),
    click.option("--source-type", "source_type", required=True, type=click.Choice(get_args(SourceType)), help="Adapter that reads the inputs."),
    click.option("--out", "out", required=True, help=_OUT_HELP),
    click.option("--staging", default=None, help=_STAGING_HELP),
    click.option("--wait", is_flag=True, help=_WAIT_HELP),
    click.option("--name", default=None, help="Source name, the folder under OUT/data/ (default: the source type)."),
    click.option("--lang", default=None, help="Language hint for records that carry none (e.g. en, zh); compared with the tagged language in stats."),
    click.option("--subset", default=None, help="Subset label (RedPajama: arxiv, book, c4, common_crawl, github, stackexchange, wikipedia)."),
    click.option("--format", "fmt", default="auto", show_default=True, type=click.Choice(get_args(InputFormat)), help="Input format; auto decides from the file extension (.jsonl .json .parquet .txt .csv .tsv .xml). csv: header row, RFC 4180 quoting; tsv: header row, no quoting; xml: one record per <row/> element (Stack Exchange dumps)."),
    click.option("--casing", default="preserve", show_default=True, type=click.Choice(get_args(Casing)), help="Casing policy of the stored text."),
    click.option("--whitespace", default="collapse", show_default=True, type=click.Choice(_choices("whitespace")), help="collapse whitespace (``` code fences keep theirs), or keep indentation everywhere (source code)."),
    click.option("--unit", default="thread", show_default=True, type=click.Choice(_choices("unit")), help="oasst: one document per thread, per message, or the best-ranked path of each tree."),
    click.option("--txt-unit", default="paragraph", show_default=True, type=click.Choice(_choices("txt_unit")), help="Plain text: one document per file, per line, or per blank-line-separated block."),
    click.option("--text-field", "text_fields", multiple=True, help="generic: field(s) holding the text (repeat to join several with a blank line)."),
    click.option("--id-field", default=None, help="generic: field holding the record's own id (default: a field named `id`, while unique within its file)."),
    click.option("--title-field", default=None, help="generic: field holding a title, prepended to the text as its first paragraph and kept in meta."),
    click.option("--meta-field", "meta_fields", multiple=True, help="generic: field to copy into meta (repeat; dotted paths reach nested fields). Default: every other top-level scalar field."),
    click.option("--input-encoding", default="utf-8", show_default=True, help="Character set of inputs without a UTF-16/32 byte order mark, e.g. cp1252, gb18030, big5 (any Python codec)."),
    click.option("--html", "html", default="keep", show_default=True, type=click.Choice(_choices("html")), help="strip: the text is HTML; convert it to text (code blocks kept as ``` fences) before normalizing."),
    click.option("--invalid-utf8", default="reject", show_default=True, type=click.Choice(get_args(NormalizeConfig.model_fields["invalid_utf8"].annotation)), help="Invalid UTF-8 lines: reject them, or repair with U+FFFD (counted)."),
    click.option("--tokenizer", "tokenizers", multiple=True, help="Tokenizer for token counts: a tiktoken encoding (offline: o200k_base, cl100k_base), a local Hugging Face tokenizer.json, or a directory holding one. Repeat to compare several: the first gives n_tokens. [default: o200k_base]"),
    click.option("--encoding", "encoding", default=None, hidden=True, help="Deprecated name of --tokenizer."),
    click.option("--shard-size-mb", default=256.0, show_default=True, type=float, help="Rotate output shards at about this size."),
    click.option("--quality-profile", default=None, type=click.Choice(_quality_profiles()), help="Quality rules for this source (default: chosen from the source type and subset; 'none' runs no rule)."),
    click.option("--threshold", default=0.8, show_default=True, type=float, help="Near-duplicate threshold: estimated Jaccard of the MinHash signatures."),
    click.option("--decontaminate", "eval_paths", multiple=True, type=click.Path(exists=True, dir_okay=False), help="Eval set file (JSONL, JSON incl. SQuAD nesting, Parquet, CSV) to decontaminate against; repeat for several. Documents sharing 2+ n-grams (13 words, or 8 characters in Han runs) with one go to rejected/contamination/ (drop_reason contamination:<file stem>)."),
    click.option("--eval-field", "eval_fields", multiple=True, help="Field(s) of the eval records joined into one item (repeat: question, answer, context, ...); default: text (SQuAD files: context, question, answers)."),
    click.option("--pii", "pii", default="tag", show_default=True, type=click.Choice(get_args(PiiPolicy)), help="PII (emails, phones, Chinese ID numbers, IPs, cards, secrets): tag = count only; redact = replace with <EMAIL>, <PHONE>, ... in the stored text; drop = reject documents with any (rejected/pii/)."),
    click.option("--force", is_flag=True, help="Re-tag shards even when their output exists for the same key."),
    click.option("--allow-empty", "allow_empty", is_flag=True, help=_ALLOW_EMPTY_HELP),
    click.option("--no-report", "no_report", is_flag=True, help="Skip the corpus-size report and its plots (OUT/stats/report.*, the slowest part of a small run; an earlier one is removed); `curate report OUT` builds it later."),
    click.option("--no-progress", is_flag=True, help="Hide the progress bar."),
]


def _input_options(f):  # type: ignore[no-untyped-def]
    for option in reversed(_INPUT_OPTIONS):
        f = option(f)
    return f


def _tokenizer_option(opts: dict[str, object]) -> list[str]:
    """--tokenizer (repeatable), or the deprecated --encoding, or the default."""
    given: list[str] = list(opts.get("tokenizers") or ())  # type: ignore[call-overload]
    if opts.get("encoding"):
        if given and given != [opts["encoding"]]:
            raise click.UsageError("give --tokenizer only (--encoding is its deprecated alias)")
        given = [str(opts["encoding"])]
    return given or ["o200k_base"]


def _one_source_config(opts: dict[str, object], select: dict[str, object], quality: dict[str, object] | None = None) -> RunConfig:
    """The run config of a one-off command: one source from the input options."""
    text_fields: tuple[str, ...] = opts["text_fields"]  # type: ignore[assignment]
    source: dict[str, object] = {
        "name": opts["name"] or opts["source_type"],
        "type": opts["source_type"],
        "paths": list(opts["inputs"]),  # type: ignore[call-overload]
        "lang": opts["lang"],
        "subset": opts["subset"],
        "format": opts["fmt"],
        "casing": opts["casing"],
        "whitespace": opts["whitespace"],
        "unit": opts["unit"],
        "txt_unit": opts["txt_unit"],
    }
    if opts["input_encoding"] != "utf-8":
        source["encoding"] = opts["input_encoding"]
    if opts["html"] != "keep":
        source["html"] = opts["html"]
    meta_fields: tuple[str, ...] = opts["meta_fields"]  # type: ignore[assignment]
    if text_fields or opts["id_field"] or opts["title_field"] or meta_fields:
        text: str | list[str] = list(text_fields) if len(text_fields) > 1 else (text_fields[0] if text_fields else "text")
        source["fields"] = {"text": text, "id": opts["id_field"], "title": opts["title_field"], "meta": list(meta_fields)}
    raw = {
        "sources": [source],
        "normalize": {"invalid_utf8": opts["invalid_utf8"]},
        "tokens": {"tokenizer": _tokenizer_option(opts)},
        "dedup": {"threshold": opts["threshold"]},
        "quality": quality if quality is not None else ({"profiles": {source["name"]: opts["quality_profile"]}} if opts["quality_profile"] else {}),
        "select": select,
        "output": {"shard_size_mb": opts["shard_size_mb"]},
        "pii": {"policy": opts["pii"]},
        "decontamination": {"eval_sets": _eval_sets(opts)},
        "checks": {"allow_empty": bool(opts["allow_empty"])},
    }
    return parse_config(raw, origin="command line")


def _eval_sets(opts: dict[str, object]) -> list[dict[str, object]]:
    """--decontaminate PATH (repeatable) -> eval sets named by the file stem (made unique)."""
    paths: tuple[str, ...] = opts["eval_paths"]  # type: ignore[assignment]
    fields: tuple[str, ...] = opts["eval_fields"]  # type: ignore[assignment]
    if fields and not paths:
        raise ConfigError("command line: --eval-field needs --decontaminate")
    sets: list[dict[str, object]] = []
    names: set[str] = set()
    for path in paths:
        stem = "".join(c if c.isalnum() or c in "_.-" else "_" for c in Path(path).stem).lstrip("_.-") or "eval"
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}_{k}", k + 1
        names.add(name)
        chosen = list(fields) if fields else (["context", "question", "answers"] if _is_squad(path) else ["text"])
        sets.append({"name": name, "path": path, "fields": chosen})
    return sets


def _is_squad(path: str) -> bool:
    """SQuAD / cmrc2018 nesting ({"data": [{"paragraphs": ...}]}), judged from the file's start."""
    if not path.lower().endswith(".json"):
        return False
    with open(path, "rb") as f:
        head = f.read(4096)
    return b'"data"' in head and b'"paragraphs"' in head


def _one_off(opts: dict[str, object], select: dict[str, object], quality: dict[str, object] | None = None) -> None:
    try:
        cfg = _one_source_config(opts, select, quality)
        progress = not opts["no_progress"] and sys.stderr.isatty()
        summary = _run_in_process(
            cfg, opts["out"], progress=progress, force=bool(opts["force"]), staging=opts["staging"], wait=bool(opts["wait"]),  # type: ignore[arg-type]
            report=not opts["no_report"],
        )
    except (ConfigError, OSError, ValueError, _lock_held()) as e:  # DuplicateIdError, EvalSetError are ValueErrors
        raise _fail(e, opts["out"]) from e
    _report(summary, cfg)
    _check_outcome(summary, cfg.checks.allow_empty)


@main.command()
@_input_options
@click.option("--languages", default="en,zh", show_default=True, help="Comma-separated languages to keep; others go to rejected/language/. 'all' keeps every language.")
def shard(languages: str, **opts: object) -> None:
    """Process INPUT files of one source in this process, without an orchestrator: tag, language and
    quality selection, dedup, final shards.

    Example: curate shard data/samples/oasst/en_100_tree.jsonl --source-type oasst --out out/oasst"""
    keep = None if languages.strip() == "all" else [x.strip() for x in languages.split(",") if x.strip()]
    _one_off(opts, {"languages": keep})


@main.command()
@_input_options
def dedup(**opts: object) -> None:
    """Read and deduplicate INPUT files only (exact and MinHash near-duplicates): languages and quality
    signals are tagged but nothing is dropped for them; duplicates go to OUT/rejected/dedup/ with
    duplicate_of.

    Example: curate dedup data/samples/zh/alpaca_zh_demo.json --source-type alpaca --out out/dedup"""
    _one_off(opts, {"languages": None, "language_mode": "label_only"}, {"enabled": False})


@main.command()
@click.argument("out")
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The run config with the new thresholds (same sources and tag settings as the run that made OUT).")
@click.option("--staging", default=None, help="The staging area of the run that made OUT, if it was not OUT/.staging.")
@click.option("--wait", is_flag=True, help=_WAIT_HELP)
def refilter(out: str, config: Path, staging: str | None, wait: bool) -> None:
    """Re-select OUT with new thresholds in seconds: select and finish run again from the staged tags in
    OUT/.staging (nothing is re-tagged; duplicate clusters are reused and their keepers re-chosen
    among the documents that now pass)."""
    from pipeline.layout import Layout
    from pipeline.runner import RefilterError, refilter as run_refilter

    try:
        cfg = load_config(config)
        summary = run_refilter(cfg, Layout(out, staging), log=log.info, wait=wait)
    except (ConfigError, RefilterError, OSError, _lock_held()) as e:
        raise _fail(e, out) from e
    _report(summary, cfg)
    _check_outcome(summary, cfg.checks.allow_empty)


@main.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--push-to-hub", "repo_id", default=None, metavar="USER/NAME", help="Then upload the card, manifest.json, stats/, data/ and rejected/ to this Hub dataset repo in one commit (the repo is created if missing; .staging/ is never uploaded).")
@click.option("--private", is_flag=True, help="With --push-to-hub: create the repo as private (an existing public repo stops the push; its visibility is not changed).")
@click.option("--token", default=None, help="With --push-to-hub: Hugging Face token (default: HF_TOKEN, else the token saved by `hf auth login`).")
def card(out: Path, repo_id: str | None, private: bool, token: str | None) -> None:
    """Regenerate the dataset card OUT/README.md from OUT/stats/stats.json and OUT/manifest.json alone
    (licences, languages, size category, one config per source, size tables, processing config); with
    --push-to-hub, publish OUT as a Hub dataset repo."""
    from pipeline.card import write_card
    from pipeline.hub_push import push_to_hub

    if repo_id is None and (private or token):
        raise click.UsageError("--private and --token only apply with --push-to-hub")
    try:
        if repo_id is None:
            click.echo(f"wrote {write_card(out)}")
            return
        info = push_to_hub(out, repo_id, private=private, token=token)
    except (ValueError, RuntimeError, OSError) as e:  # CardError, PushError, the Hub's HTTP errors
        raise _fail(e) from e
    click.echo(f"wrote {out / 'README.md'}; pushed to {repo_id}: {info.commit_url}")


@main.command()
@click.argument("out")
def report(out: str) -> None:
    """Regenerate the corpus-size report from OUT/stats/stats.json alone: OUT/stats/report.md, a
    self-contained OUT/stats/report.html (plots embedded) and the PNG plots next to them. Needs
    no data files (works with OUT/data deleted); the same stats.json gives the same files byte
    for byte. `curate run`, `shard`, `dedup` and `refilter` write the report already."""
    from pipeline.report import write_report

    try:
        paths = write_report(out)
    except (FileNotFoundError, ValueError) as e:
        raise _fail(e) from e
    except KeyError as e:
        raise click.ClickException(f"{out / 'stats' / 'stats.json'}: no field {e} (not a curate stats.json?)") from e
    for path in paths:
        click.echo(f"wrote {path}")

@main.command("export")
@click.argument("out")
@click.option("--tokenizer", required=True, help="tiktoken encoding (offline: o200k_base, cl100k_base), a local Hugging Face tokenizer.json, or a directory holding one.")
@click.option("--format", "fmt", default="megatron", show_default=True, type=click.Choice(["megatron", "npy"]), help="megatron: Megatron-LM indexed dataset (.bin + .idx, MMIDIDX); npy: <stem>.tokens.npy (flat ids) + <stem>.offsets.npy (int64 document starts, one more than documents).")
@click.option("--out", "dest", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory for the token files and manifest.json (created if missing; files that an earlier export's manifest there named and this one does not write are removed; nothing else is touched).")
@click.option("--bos", is_flag=True, help="Put the tokenizer's BOS token before each document (fails if it defines none).")
@click.option("--eos", default=None, metavar="TOKEN", help="Text of the EOS token appended to each document (default: the tokenizer's own, from tokenizer_config.json or the usual names).")
@click.option("--workers", default=0, show_default=True, type=int, help="0: export shard after shard in this process; N > 0: one Prefect task per shard on a local Dask cluster of N workers.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def export_cmd(out: str, tokenizer: str, fmt: str, dest: Path, bos: bool, eos: str | None, workers: int, no_progress: bool) -> None:
    """Tokenize the kept documents of OUT for training: per final shard (source and language), each
    document's ids, then EOS, written as DIR/<source>/<lang>/<stem>.bin/.idx (Megatron) or
    .tokens.npy/.offsets.npy, with DIR/manifest.json (tokens, documents, sha256 per file). Reads
    OUT/manifest.json and OUT/data/ only (OUT may be a URL); OUT is never changed. Deterministic and
    resumable: shards exported before with the same input, tokenizer and options are skipped.

    Example: curate export out/ --tokenizer o200k_base --format megatron --out out-tokens/"""
    from pipeline.export import ExportError, ExportOptions, run_export
    from pipeline.user_tokenizers import TokenizerError

    opts = ExportOptions(tokenizer=tokenizer, format=fmt, bos=bos, eos=eos)
    try:
        if workers > 0:
            from flows.export import export_flow

            manifest = export_flow(out, str(dest), opts, workers=workers)
        else:
            from tqdm import tqdm

            bar = tqdm(desc="export", unit=" docs", disable=no_progress or not sys.stderr.isatty(), dynamic_ncols=True)

            def progress(docs: int, tokens: int) -> None:
                bar.update(docs)
                bar.set_postfix_str(f"{tokens:,} tokens", refresh=False)

            try:
                manifest = run_export(out, dest, opts, progress=progress, log=log.info)
            finally:
                bar.close()
    except (ExportError, TokenizerError, FileNotFoundError) as e:
        raise _fail(e) from e
    t = manifest["totals"]
    if t["documents"] == 0:
        raise click.ClickException(f"{out}: no kept documents to export; nothing written but {dest / 'manifest.json'}")
    click.echo(f"wrote {dest} ({len(manifest['shards'])} shards, {t['documents']:,} documents, {t['tokens']:,} tokens, {manifest['dtype']}, {manifest['tokenizer']['label']})")


@main.command("mix")
@click.argument("out")
@click.option("--tokens", "budget", default=None, help="Training token budget (in OUT's n_tokens unit), e.g. 2e9, 300M, 1.3B; or give --model-params.")
@click.option("--model-params", default=None, help="Model size in parameters (e.g. 1.3B): the budget is this x --tokens-per-param.")
@click.option("--tokens-per-param", default=20.0, show_default=True, type=float, help="With --model-params: training tokens per parameter (20: Hoffmann et al. 2022).")
@click.option("--weight", "weights", multiple=True, metavar="SOURCE=W", help="Share of the budget for a source (repeat; normalized to sum 1; sources not listed are left out). Default: every source at its natural share.")
@click.option("--max-epochs", default=4.0, show_default=True, type=float, help="Never repeat a source more than this many epochs (Muennighoff et al. 2023); what is missing is reported as its shortfall.")
@click.option("--validation", default=0.0, show_default=True, type=float, help="Validation share: per source, this share of its part is held out, whole duplicate clusters at a time.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the samples and the shuffle (same seed: byte-identical output).")
@click.option("--out", "dest", default=None, type=click.Path(file_okay=False, path_type=Path), help="Directory for the mixture (data/train-*.parquet, data/validation-*.parquet, mix.json, manifest.json, README.md).")
@click.option("--shard-size-mb", default=256.0, show_default=True, type=float, help="Rotate the mixture's Parquet shards at about this many MB of text.")
@click.option("--plan", "plan_only", is_flag=True, help="Print the mixture table (source, tokens, weight, epochs over the budget) and write nothing.")
@click.option("--export", "export_fmt", default=None, type=click.Choice(["megatron", "npy"]), help="Also tokenize the mixture into DIR/tokenized/ (needs --tokenizer).")
@click.option("--tokenizer", default=None, help="With --export: the tokenizer (as for `curate export`).")
def mix_cmd(out: str, budget: str | None, model_params: str | None, tokens_per_param: float, weights: tuple[str, ...], max_epochs: float, validation: float, seed: int, dest: Path | None, shard_size_mb: float, plan_only: bool, export_fmt: str | None, tokenizer: str | None) -> None:
    """Make a training mixture of OUT's kept documents to a token budget: per source, documents reaching
    weight W of N tokens (a small source repeated whole epochs plus a seeded sample, at most
    --max-epochs), a validation split sharing no document or duplicate cluster with train, rows
    shuffled, written as Hub-layout Parquet with a card holding the mixture table. OUT is only read.

    Example: curate mix out/ --tokens 2M --weight cc_en=0.5 --weight cmrc2018=0.5 --validation 0.01 --out mix/"""
    from pipeline.export import ExportError, ExportOptions, run_export
    from pipeline.mix import MixError, MixOptions, parse_count, parse_weights, plan_mix, plan_table, write_mix
    from pipeline.user_tokenizers import TokenizerError

    try:
        if (budget is None) == (model_params is None):
            raise click.UsageError("give one of --tokens and --model-params")
        n = parse_count(budget, "--tokens") if budget is not None else parse_count(model_params or "", "--model-params") * tokens_per_param
        if not plan_only and dest is None:
            raise click.UsageError("give --out DIR (or --plan to print the table only)")
        if export_fmt and not tokenizer:
            raise click.UsageError("--export needs --tokenizer")
        opts = MixOptions(tokens=int(round(n)), weights=parse_weights(weights), max_epochs=max_epochs, validation=validation, seed=seed, shard_size_mb=shard_size_mb)
        plan = plan_mix(out, opts)
        click.echo(plan_table(plan))
        if plan_only:
            return
        assert dest is not None
        doc = write_mix(out, dest, plan, log=log.info)
        click.echo(f"wrote {dest} ({doc['totals']['documents']:,} train rows, {doc['totals']['tokens']:,} tokens; {doc['totals']['validation_documents']:,} validation rows)")
        if export_fmt:
            manifest = run_export(dest, dest / "tokenized", ExportOptions(tokenizer=tokenizer or "", format=export_fmt), log=log.info)
            click.echo(f"wrote {dest / 'tokenized'} ({manifest['totals']['tokens']:,} tokens)")
    except (MixError, ExportError, TokenizerError, FileNotFoundError) as e:
        raise _fail(e) from e


def _run_in_process(
    cfg: RunConfig, out: str, progress: bool, force: bool = False, staging: str | None = None, wait: bool = False, report: bool = True
) -> RunSummary:
    from pipeline.layout import Layout
    from pipeline.runner import run_local

    make, close_all = _progress_factory(progress)
    lay = Layout(out, staging)
    if force:
        lay.stage.rm_tree(lay.stage.path("tagged"))
    try:
        return run_local(cfg, lay, progress=make, log=log.info, wait=wait, report=report)
    finally:
        close_all()


if __name__ == "__main__":
    main()
