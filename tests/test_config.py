from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[1]


def test_sample_config_loads_and_covers_three_families() -> None:
    cfg = load_config(REPO / "data/configs/sample.yaml")
    types = {s.type for s in cfg.sources}
    assert {"redpajama", "oasst"} <= types
    assert types & {"chinese_poetry", "squad", "alpaca", "wudao", "clue", "zhwiki"}
    assert cfg.select.languages == ["en", "zh"]


def test_hub_config_names_real_ids() -> None:
    cfg = load_config(REPO / "data/configs/hub.yaml")
    hubs = {s.name: s.hub for s in cfg.sources}
    assert hubs["oasst1"] is not None and hubs["oasst1"].path == "OpenAssistant/oasst1"
    assert hubs["zhwiki"] is not None and (hubs["zhwiki"].path, hubs["zhwiki"].name) == ("wikimedia/wikipedia", "20231101.zh")
    assert hubs["redpajama_arxiv"] is not None
    assert hubs["redpajama_arxiv"].data_files_from == "https://data.together.xyz/redpajama-data-1T/v1.0.0/urls.txt"


def test_config_hash_changes_with_any_setting() -> None:
    base = {"sources": [{"name": "a", "type": "generic", "paths": ["x.jsonl"]}]}
    h1 = parse_config(base).hash()
    assert parse_config(base).hash() == h1
    changed = {**base, "normalize": {"fullwidth_alnum": "keep"}}
    assert parse_config(changed).hash() != h1


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"sources": [{"name": "a", "type": "generic", "paths": ["x"], "colour": 1}]}, "sources.0.colour"),
        ({"sources": [{"name": "a", "type": "nope", "paths": ["x"]}]}, "sources.0.type"),
        ({"sources": [{"name": "a", "type": "generic"}]}, "exactly one of `paths` or `hub`"),
        ({"sources": [{"name": "a", "type": "generic", "paths": ["x"]}] * 2}, "duplicate source names: a"),
        ({"sources": []}, "sources"),
        (["not", "a", "mapping"], "top level must be a mapping"),
    ],
)
def test_config_errors_name_the_key(raw: object, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(raw, origin="my.yaml")
    assert "my.yaml" in str(e.value)
    assert needle in str(e.value)


def test_load_config_reports_bad_yaml(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("sources: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.yaml: invalid YAML"):
        load_config(p)


def _keys(model: type) -> set[str]:
    from pydantic import BaseModel

    keys: set[str] = set()
    for name, f in model.model_fields.items():  # type: ignore[attr-defined]
        keys.add(name)
        for arg in [f.annotation, *getattr(f.annotation, "__args__", ())]:
            inner = getattr(arg, "__args__", (arg,))
            for a in inner:
                if isinstance(a, type) and issubclass(a, BaseModel):
                    keys |= _keys(a)
    return keys


def test_every_config_key_is_documented_in_the_readme() -> None:
    from pipeline.config import RunConfig

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = sorted(k for k in _keys(RunConfig) if f"`{k}`" not in readme)
    assert missing == []
