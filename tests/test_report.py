"""The corpus-size report: every number traced to stats.json, the five questions answered with the
run's own figures, plots labelled, byte-for-byte rebuilds from stats.json alone, and report.html
rendered by a real headless browser.

Uses the shared sample run (`sample_out` in conftest.py: finish writes the report) and copies it
before changing anything."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

from pipeline.report import references as ref
from pipeline.report import plots
from pipeline.cli import main
from pipeline.config import ConfigError, ReportConfig, parse_config
from pipeline.report import PLOT_NAMES, write_report
from pipeline.report.corpus import published_estimates

SECTIONS = ("sizes", "bytes", "funnel", "budget", "casing", "lengths", "variants", "safety", "references")


@pytest.fixture(scope="module")
def stats(sample_out: Path) -> dict[str, Any]:
    return json.loads((sample_out / "stats" / "stats.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def md(sample_out: Path) -> str:
    return (sample_out / "stats" / "report.md").read_text(encoding="utf-8")


def _section(md: str, key: str) -> str:
    """The Markdown of one section (from its anchor to the next one)."""
    start = md.index(f'<a id="{key}"></a>')
    nxt = md.find('<a id="', start + 1)
    return md[start : nxt if nxt >= 0 else len(md)]


def _tables(text: str) -> list[list[list[str]]]:
    """Markdown tables as rows of cells (header row first, separator dropped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(set(c) <= {"-"} for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


# --- parsing numbers back -------------------------------------------------------------------------

_NUM = re.compile(r"(?<![\w.^/-])(\d[\d,]*(?:\.\d+)?(?:e[+-]\d+)?)(%|[KMBT](?![A-Za-z]))?")
_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12, "%": 0.01, None: 1.0}
#: Names that contain digits but are not figures.
_NAMES = ("GPT-3", "ERNIE 3.0", "UTF-8", "2^p")


def _numbers(text: str) -> Iterator[tuple[str, float, float]]:
    """(as printed, value, tolerance) of every number outside code spans and citations: the
    tolerance is half a unit of the last printed digit, in the number's own scale."""
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)  # image links repeat their caption
    for r in ref.REFERENCES:
        text = text.replace(r.figure, " ").replace(r.citation, " ")
    for c in (ref.BROWN_2020, ref.SUN_2021, ref.HOFFMANN_2022, ref.KOMATSUZAKI_2019, ref.MUENNIGHOFF_2023, ref.XUE_2023):
        text = text.replace(c, " ")
    for name in _NAMES:
        text = text.replace(name, " ")
    for m in _NUM.finditer(text):
        raw, suffix = m.group(1), m.group(2)
        digits = raw.replace(",", "")
        mant = digits.split("e")[0]
        decimals = len(mant.split(".")[1]) if "." in mant else 0
        exp = int(digits.split("e")[1]) if "e" in digits else 0
        scale = _SCALE[suffix]
        yield m.group(0), float(digits) * scale, 0.5 * 10.0 ** (exp - decimals) * scale * (1 + 1e-9) + 1e-12


def _leaves(obj: Any) -> Iterator[float]:
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    if isinstance(obj, (int, float)):
        yield float(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v)


def _derived(stats: dict[str, Any]) -> list[float]:
    """Every figure the report may print: stats.json values and the documented derivations of them
    (README, "Corpus-size report"), computed here independently of the report code."""
    vals = list(_leaves({k: v for k, v in stats.items() if k != "vocab"}))
    vals += list(_leaves({k: v for k, v in stats["vocab"].items() if k != "sketches"}))
    by_lang = stats["sizes"]["by_lang"]
    en, zh = by_lang["en"], by_lang["zh"]
    published = [(ref.GPT3_CC_BYTES, ref.GPT3_CC_TOKENS), (ref.ERNIE3_BYTES, None)]
    vals += [ref.GPT3_CC_BYTES / ref.GB, ref.GPT3_CC_TOKENS, ref.GPT3_CC_TOKENS / 1e9, ref.ERNIE3_BYTES / ref.TB]
    # constants of stated formulas: 1 - uncased / cased; HyperLogLog's error 1.04 / sqrt(2^p)
    vals += [ref.GPT3_CC_BYTES / ref.GPT3_CC_TOKENS, ref.MAX_USEFUL_EPOCHS, 1.0, 1.04]
    for n_bytes, tokens in published:
        for s in (en, zh):
            est = n_bytes / s["bytes_per_token"]
            vals += [est, n_bytes / s["bytes_per_char"]]
            if tokens:
                vals += [tokens / est, est / tokens]
    vals += [zh["bytes_per_char"] / en["bytes_per_char"], zh["chars"] / zh["words"]]
    stages = stats["stages"]
    order = [s for s in ("read", "normalize", "language", "quality", "contamination", "pii", "dedup") if s in stages]
    for st in order:
        t = stages[st]["total"]
        if t["tokens_in"]:
            vals.append(t["tokens_kept"] / t["tokens_in"])
            vals += [n / t["tokens_in"] for n in t["rejected_tokens_by_reason"].values()]
    first, last = stages[order[0]]["total"], stages[order[-1]]["total"]
    vals += [last["docs_kept"] / first["docs_in"], last["tokens_kept"] / stages[order[1]]["total"]["tokens_in"]]
    for src in stages[order[0]]["by_source"]:
        d0 = stages[order[0]]["by_source"][src]
        t0 = stages[order[1]]["by_source"][src]
        dn = stages[order[-1]]["by_source"].get(src, {"docs_kept": 0, "tokens_kept": 0})
        vals += [dn["docs_kept"] / d0["docs_in"], dn["tokens_kept"] / t0["tokens_in"]]
    dup = stats["duplicates"]["total"]
    vals += [(dup["within"] + dup["across"]) / dup["docs_in"], sum(stages["dedup"]["total"]["rejected_tokens_by_reason"].values())]
    settings = stats["report_settings"]
    corpus = stats["sizes"]["total"]["tokens"]
    limit = settings["max_epochs"]
    vals += [*settings["model_sizes"], *settings["tokens_per_param"], limit]
    for r in settings["tokens_per_param"]:
        vals += [corpus / r, corpus * limit / r]
        for n in settings["model_sizes"]:
            vals += [n * r, n * r / corpus]
    vals += [1.04 / math.sqrt(2 ** stats["vocab"]["p"]), 2 ** (1 / stats["histograms"]["chars"]["total"]["bins_per_octave"]) - 1]
    return vals


def _traceable(value: float, tol: float, allowed: list[float]) -> bool:
    return any(abs(value - a) <= tol for a in allowed)


def test_every_number_in_report_md_is_traceable_to_stats_json(md: str, stats: dict[str, Any]) -> None:
    allowed = _derived(stats)
    numbers = list(_numbers(md))
    assert len(numbers) > 500
    untraced = [printed for printed, value, tol in numbers if not _traceable(value, tol, allowed)]
    assert untraced == []


def test_number_parser_catches_a_planted_figure(md: str, stats: dict[str, Any]) -> None:
    """The traceability check is not vacuous: a number that is in no stats field is reported."""
    allowed = _derived(stats)
    planted = md.replace("## (d)", "The corpus holds 123,457 tokens and 9.8765 bytes/token.\n\n## (d)")
    untraced = [p for p, v, t in _numbers(planted) if not _traceable(v, t, allowed)]
    assert untraced == ["123,457", "9.8765"]


def _cell_int(cell: str) -> int:
    return int(cell.replace(",", ""))


def test_sizes_table_equals_stats_and_token_total_equals_the_shards(md: str, stats: dict[str, Any], sample_out: Path) -> None:
    (table,) = [t for t in _tables(_section(md, "sizes")) if t[0][0] == "source"]
    header, rows = table[0], table[1:]
    keys = ["docs", "bytes", "chars", "words", "tokens", "bytes_per_char", "chars_per_token", "bytes_per_token", "tokens_per_word"]
    expected = {(f"`{src}`", f"`{lang}`"): s for src, langs in stats["sizes"]["by_source"].items() for lang, s in langs.items()}
    expected |= {("**all sources**", f"`{lang}`"): s for lang, s in stats["sizes"]["by_lang"].items()}
    expected[("**total**", "all")] = stats["sizes"]["total"]
    assert len(header) == 2 + len(keys) and {(r[0], r[1]) for r in rows} == set(expected)
    for row in rows:
        s = expected[(row[0], row[1])]
        for key, cell in zip(keys, row[2:]):
            assert (_cell_int(cell) if isinstance(s[key], int) else float(cell)) == s[key], (row[:2], key)
    shard_tokens = sum(pc.sum(pq.read_table(f, columns=["n_tokens"]).column("n_tokens")).as_py() for f in (sample_out / "data").rglob("*.parquet"))
    total_row = next(r for r in rows if r[0] == "**total**")
    assert _cell_int(total_row[6]) == shard_tokens == stats["sizes"]["total"]["tokens"]
    assert f"{shard_tokens:,} BPE tokens" in _section(md, "sizes")
    assert f"{shard_tokens:,} BPE tokens" in _section(md, "budget")


def test_the_five_questions_are_answered_with_the_runs_figures(md: str, stats: dict[str, Any]) -> None:
    for key in SECTIONS:
        assert f'<a id="{key}"></a>' in md, key
    for letter in "abcde":
        assert f"## ({letter})" in md
    sizes = stats["sizes"]
    en, zh = sizes["by_lang"]["en"], sizes["by_lang"]["zh"]
    # (a) every source x language with its four units
    a = _section(md, "sizes")
    for src, langs in sizes["by_source"].items():
        for lang, s in langs.items():
            assert f"| `{src}` | `{lang}` | {s['docs']:,} | {s['bytes']:,} | {s['chars']:,} | {s['words']:,} | {s['tokens']:,} |" in a
    # (b) the inconsistency, with the measured English bytes/token, and the estimates
    b = _section(md, "bytes")
    assert "1.4250 bytes per token" in b and f"{en['bytes_per_token']:.4f} UTF-8 bytes per BPE token" in b
    assert f"{zh['bytes_per_char']:.4f} UTF-8 bytes per character" in b
    rows = {(r[0], r[3]): r for t in _tables(b) for r in t[1:]}
    for est in published_estimates(stats):
        for lang, tokens in est["estimates"].items():
            row = rows[(est["corpus"], f"this run's `{lang}` text")]
            ((_, value, tol),) = list(_numbers(row[5]))
            assert abs(value - est["bytes"] / sizes["by_lang"][lang]["bytes_per_token"]) <= tol
    gpt3_en = rows[("GPT-3, Common Crawl", "this run's `en` text")]
    assert abs(float(gpt3_en[8]) - ref.GPT3_CC_TOKENS / (ref.GPT3_CC_BYTES / en["bytes_per_token"])) <= 0.005
    # (c) funnel rows and duplicates
    c = _section(md, "funnel")
    for stage, block in stats["stages"].items():
        t = block["total"]
        assert f"| `{stage}` | {t['docs_in']:,} | {t['docs_kept']:,} | {t['docs_rejected']:,} | {t['bytes_in']:,} | {t['bytes_kept']:,} |" in c
        for reason, n in t["rejected_by_reason"].items():
            tok = t["rejected_tokens_by_reason"][reason]
            assert f"| `{stage}` | `{reason}` | {n:,} | {t['rejected_bytes_by_reason'][reason]:,} | {tok:,} |" in c
    dup = stats["duplicates"]["total"]
    assert f"{dup['within'] + dup['across']:,} of the {dup['docs_in']:,} documents entering dedup were duplicates" in c
    for src, keepers in stats["duplicates"]["pairs"].items():
        for ksrc, u in keepers.items():
            assert f"| `{src}` | `{ksrc}` | {u['docs']:,} | {u['bytes']:,} | {u['tokens']:,} |" in c
    # (d) tokens wanted and epochs for every configured model size and ratio, flagged over the limit
    d = _section(md, "budget")
    (budget,) = [t for t in _tables(d) if t[0][0].startswith("model size")]
    settings = stats["report_settings"]
    corpus = sizes["total"]["tokens"]
    assert len(budget) - 1 == len(settings["model_sizes"]) * len(settings["tokens_per_param"])
    for row in budget[1:]:
        ((_, n, _),) = list(_numbers(row[0]))
        ((_, r, _),) = list(_numbers(row[1]))
        ((_, wanted, wtol),) = list(_numbers(row[3]))
        ((_, epochs, etol),) = list(_numbers(row[4]))
        assert any(math.isclose(n, m) for m in settings["model_sizes"]) and any(math.isclose(r, x) for x in settings["tokens_per_param"])
        assert abs(wanted - n * r) <= wtol and abs(epochs - n * r / corpus) <= etol
        assert ("repetition risk" in row[5]) == (n * r / corpus > settings["max_epochs"])
    # (e) casing: extra duplicates and vocabulary shrink
    e = _section(md, "casing")
    casing, vocab = stats["casing"], stats["vocab"]["total"]
    assert f"Ignoring case finds {casing['extra_duplicates']:,} more exact-duplicate" in e
    assert f"from {vocab['cased']:,} to {vocab['uncased']:,} distinct words ({100 * vocab['reduction']:.2f}% fewer)" in e


def test_reference_table_lists_every_published_figure_with_its_source(md: str) -> None:
    (table,) = _tables(_section(md, "references"))
    assert [r for r in table[1:]] == [[r.subject, r.figure.replace("|", "\\|"), r.citation] for r in ref.REFERENCES]
    assert all(r.citation for r in ref.REFERENCES)


def _figures(stats: dict[str, Any]) -> dict[str, Figure]:
    s = stats["report_settings"]
    stages = list(stats["stages"])
    return {
        "sizes": plots.fig_sizes(stats),
        "ratios": plots.fig_ratios(stats),
        "bytes_to_tokens": plots.fig_published_tokens(published_estimates(stats)),
        "funnel": plots.fig_funnel(stats, stages),
        "duplicates": plots.fig_duplicates(stats),
        "epochs": plots.fig_epochs(stats["sizes"]["total"]["tokens"], s["model_sizes"], s["tokens_per_param"], s["max_epochs"]),
        "vocab": plots.fig_vocab(stats),
        "lengths": plots.fig_lengths(stats),
        "variants": plots.fig_variants(stats),
    }


UNITS = ("bytes", "characters", "tokens", "documents", "words", "%", "parameters", "epochs", "ratio", "units")


def test_plots_have_axis_labels_units_legends_and_sources(stats: dict[str, Any], sample_out: Path) -> None:
    figs = _figures(stats)
    assert set(figs) == set(PLOT_NAMES)
    for name, fig in figs.items():
        assert fig.axes, name
        for ax in fig.axes:
            xlabel, ylabel = ax.get_xlabel(), ax.get_ylabel()
            assert xlabel and ylabel, name
            assert any(u in ylabel or u in xlabel for u in UNITS), (name, xlabel, ylabel)
            legend = ax.get_legend()
            assert legend is not None and [t.get_text() for t in legend.get_texts()], name
        assert any(t.get_text().startswith("Source: ") for t in fig.texts), name
        # the figure on disk is this figure, rendered deterministically
        assert plots.png_bytes(fig) == (sample_out / "stats" / f"{name}.png").read_bytes(), name
    y = figs["epochs"].axes[0]
    assert "epochs" in y.get_ylabel() and "parameters" in y.get_xlabel()
    assert any("Muennighoff" in t.get_text() for t in y.get_legend().get_texts())
    tokens_axis = figs["bytes_to_tokens"].axes[0]
    assert "tokens" in tokens_axis.get_ylabel() and "billions" in tokens_axis.get_ylabel()


def test_png_files_are_fixed_size_pngs(sample_out: Path) -> None:
    for name in PLOT_NAMES:
        data = (sample_out / "stats" / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (round(plots.FIGSIZE[0] * plots.DPI), round(plots.FIGSIZE[1] * plots.DPI)), name
        assert b"Software" not in data and b"matplotlib" not in data.lower()


def test_html_is_self_contained_and_embeds_the_pngs(sample_out: Path) -> None:
    html = (sample_out / "stats" / "report.html").read_text(encoding="utf-8")
    assert "<link" not in html and "src=\"http" not in html and "url(" not in html and "@import" not in html
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == len(PLOT_NAMES)
    embedded = [base64.b64decode(s.removeprefix("data:image/png;base64,")) for s in srcs if s.startswith("data:image/png;base64,")]
    assert sorted(embedded) == sorted((sample_out / "stats" / f"{n}.png").read_bytes() for n in PLOT_NAMES)
    for key in SECTIONS:
        assert f'<section id="{key}">' in html


def _stats_only(sample_out: Path, dest: Path) -> Path:
    (dest / "stats").mkdir(parents=True)
    shutil.copy2(sample_out / "stats" / "stats.json", dest / "stats" / "stats.json")
    return dest


def _report_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "stats").iterdir()) if p.name != "stats.json"}


def test_curate_report_rebuilds_the_same_bytes_without_data(sample_out: Path, tmp_path: Path) -> None:
    expected = _report_files(sample_out)
    assert set(expected) == {"report.md", "report.html", *(f"{n}.png" for n in PLOT_NAMES)}
    out = tmp_path / "out"
    shutil.copytree(sample_out, out, ignore=shutil.ignore_patterns(".staging"))
    shutil.rmtree(out / "data")
    for name in expected:
        (out / "stats" / name).unlink()
    res = CliRunner().invoke(main, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert _report_files(out) == expected
    res = CliRunner().invoke(main, ["report", str(out)])  # again, over its own output
    assert res.exit_code == 0 and _report_files(out) == expected
    # stats.json alone is enough
    bare = _stats_only(sample_out, tmp_path / "bare")
    assert [p.name for p in write_report(bare)] == [*(f"{n}.png" for n in sorted(PLOT_NAMES)), "report.md", "report.html"]
    assert _report_files(bare) == expected


def test_curate_report_without_stats_is_a_clear_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 1 and "stats.json" in res.output
    (tmp_path / "stats").mkdir()
    (tmp_path / "stats" / "stats.json").write_text('{"stages": ')  # truncated
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 1 and "not valid JSON" in res.output and res.exception is not None
    assert "Traceback" not in res.output


def test_report_settings_come_from_the_config_through_stats_json(stats: dict[str, Any], sample_out: Path, tmp_path: Path) -> None:
    from pipeline.user_tokenizers import tokenizer_settings

    assert stats["report_settings"] == {**ReportConfig().model_dump(mode="json"), "encoding": "o200k_base", "tokenizers": tokenizer_settings(["o200k_base"])}
    cfg = parse_config({"sources": [{"name": "a", "type": "generic", "paths": ["x"]}], "report": {"model_sizes": [7e9], "tokens_per_param": [10], "max_epochs": 2}})
    out = _stats_only(sample_out, tmp_path / "custom")
    doc = json.loads((out / "stats" / "stats.json").read_text())
    doc["report_settings"] = {**cfg.report.model_dump(mode="json"), "encoding": cfg.tokens.encoding}
    (out / "stats" / "stats.json").write_text(json.dumps(doc))
    write_report(out)
    budget = _section((out / "stats" / "report.md").read_text(encoding="utf-8"), "budget")
    (table,) = [t for t in _tables(budget) if t[0][0].startswith("model size")]
    assert [row[:3] for row in table[1:]] == [["7B", "10", "configured (run config `report.tokens_per_param`)"]]
    assert "over 2 epochs" in table[1][5]


@pytest.mark.parametrize(
    ("report", "needle"),
    [({"model_sizes": [-1]}, "report.model_sizes"), ({"max_epochs": 0}, "report.max_epochs"), ({"colour": 1}, "report.colour"), ({"tokens_per_param": []}, "report.tokens_per_param")],
)
def test_report_config_is_validated(report: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_config({"sources": [{"name": "a", "type": "generic", "paths": ["x"]}], "report": report}, origin="my.yaml")


# --- headless Chromium ----------------------------------------------------------------------------

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser() -> str | None:
    """Headless Chromium; installed with apt-get (Debian's `chromium`) when missing and this user
    may (root, or sudo without a password), as `make test` does."""
    found = next((shutil.which(b) for b in _BROWSERS if shutil.which(b)), None)
    if found or not shutil.which("apt-get"):
        return found
    sudo: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo") or subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0:
            return None
        sudo = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], capture_output=True, env=env, timeout=600)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "chromium"], capture_output=True, env=env, timeout=900)
    return shutil.which("chromium")


def _chrome(browser: str, profile: Path, *args: str) -> str:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
    ]  # fmt: skip
    res = subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def _box(attrs: str) -> tuple[int, int, int, int]:
    m = re.search(r'data-box="(-?\d+),(-?\d+),(\d+),(\d+)"', attrs)
    assert m, attrs[:200]
    x, y, w, h = map(int, m.groups())
    return x, y, w, h


def test_report_html_renders_in_headless_chromium(sample_out: Path, tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip("headless Chromium is not installed and cannot be installed here (no apt-get, or neither root nor sudo); `make test` installs Debian's chromium")
    page = sample_out / "stats" / "report.html"
    width = 1200
    dom = _chrome(browser, tmp_path / "profile", f"--window-size={width},900", "--dump-dom", page.as_uri())
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    assert f'data-images-loaded="{len(PLOT_NAMES)}/{len(PLOT_NAMES)}"' in body.group(1)
    height = int(re.search(r'data-page-height="(\d+)"', body.group(1)).group(1))  # type: ignore[union-attr]
    sections = dict(re.findall(r'<section id="(\w+)"([^>]*)>', dom))
    assert set(sections) == set(SECTIONS)
    for key, attrs in sections.items():
        assert _box(attrs)[3] > 50, key
    images = [_box(attrs) for attrs in re.findall(r"<img ([^>]*)>", dom)]
    assert len(images) == len(PLOT_NAMES)

    shot = tmp_path / "report.png"
    _chrome(browser, tmp_path / "profile", f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri())
    from PIL import Image, ImageStat

    with Image.open(shot) as im:
        gray = im.convert("L")
        assert gray.size == (width, height)
        assert ImageStat.Stat(gray).stddev[0] > 20  # not a blank page
        for x, y, w, h in images:
            assert w > 400 and h > 200
            region = gray.crop((x, y, x + w, y + h))
            dark = sum(region.histogram()[:128]) / (w * h)
            assert ImageStat.Stat(region).stddev[0] > 20 and dark > 0.01, (x, y)  # the plot is drawn there


def test_report_of_an_english_only_run_without_dedup(tmp_path: Path) -> None:
    """No Chinese, no dedup: the sections say what cannot be measured instead of failing."""
    from pipeline.runner import run_local

    samples = Path(__file__).resolve().parents[1] / "data" / "samples"
    cfg = parse_config({
        "sources": [{"name": "cc_en", "type": "dolma", "lang": "en", "paths": [str(samples / "en" / "cc_en_head-0091.jsonl")]}],
        "dedup": {"enabled": False},
    })  # fmt: skip
    out = tmp_path / "out"
    run_local(cfg, out)
    md = (out / "stats" / "report.md").read_text(encoding="utf-8")
    for key in SECTIONS:
        assert f'<a id="{key}"></a>' in md, key
    assert "dedup was off in this run" in _section(md, "casing")
    assert "No kept document carries a Chinese variant" in _section(md, "variants")
    b = _section(md, "bytes")
    assert "this run's `en` text" in b and "this run's `zh` text" not in b
    assert not (out / "stats" / "variants.png").exists() and (out / "stats" / "epochs.png").exists()
    assert "data-images-loaded" in (out / "stats" / "report.html").read_text(encoding="utf-8")
