"""The README's table of modes and tags is the feature registry's own (snf-network features)."""

from __future__ import annotations

from pathlib import Path

from snf_network import config, features


def test_the_readme_lists_every_feature_as_the_registry_does() -> None:
    text = (Path(__file__).parents[2] / "README.md").read_text()
    start = text.index("<!-- features:")
    table = text[text.index("\n", start) + 1 : text.index("<!-- /features -->")]
    assert table == features.table(config.from_text("")), "run snf-network features and paste its table"
