"""C4 line removal on real-looking lines and on Chinese, and its accounting on the Dolma/CCNet
sample (the C4 sample itself is already C4-filtered: nothing to remove there)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from filters.c4_lines import c4_line_filter
from pipeline.config import parse_config
from pipeline.runner import run_local


def test_keeps_sentences_and_drops_menu_lines() -> None:
    text = (
        "Home | About | Contact\n"
        "Basic air cleaners can filter some of the dust, dander and pollen that need to be removed.\n"
        "Click here\n"
        "Please enable JavaScript to view the comments powered by Disqus.\n"
        "We use cookies to improve your experience. Read our privacy policy.\n"
        "\n"
        "They are 85% efficient, and usually have a low price tag."
    )
    out, removed = c4_line_filter(text)
    assert removed == 4
    assert out == (
        "Basic air cleaners can filter some of the dust, dander and pollen that need to be removed.\n\n"
        "They are 85% efficient, and usually have a low price tag."
    )
    assert c4_line_filter(out) == (out, 0)  # idempotent


def test_chinese_lines_count_han_characters() -> None:
    text = "首页 新闻 体育\n本作以三大故事为主轴，丰富游戏内的剧情。\n登录"
    out, removed = c4_line_filter(text)
    assert (out, removed) == ("本作以三大故事为主轴，丰富游戏内的剧情。", 2)


def test_opt_in_source_transformation_is_counted(tmp_path: Path) -> None:
    samples = Path(__file__).resolve().parents[1] / "data" / "samples"
    files = sorted(str(p) for p in (samples / "en").glob("cc_en_head-*.jsonl"))
    cfg = parse_config(
        {
            "sources": [{"name": "cc", "type": "dolma", "c4_line_filter": True, "paths": files}],
            "quality": {"enabled": False},
            "dedup": {"enabled": False},
            "select": {"languages": None},
        }
    )
    run_local(cfg, tmp_path)
    stats = json.loads((tmp_path / "stats" / "stats.json").read_text())
    # measured: 5 of the 20 CCNet pages lose 14 lines in all
    assert stats["normalize"]["cc"]["c4_lines_removed"] == 5
    assert stats["normalize"]["cc"]["c4_lines_removed_total"] == 14
    s = stats["stages"]["normalize"]["by_source"]["cc"]
    assert s["docs_in"] == s["docs_kept"] + s["docs_rejected"] == 20
    texts = [t for f in (tmp_path / "data").rglob("*.parquet") for t in pq.read_table(f).column("text").to_pylist()]
    originals = [orjson.loads(x)["text"] for f in files for x in Path(f).read_bytes().splitlines()]
    assert sum(map(len, texts)) < sum(map(len, originals))
    assert all(c4_line_filter(t)[1] == 0 for t in texts)
