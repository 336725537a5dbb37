"""mkdocs.yml is valid YAML and its nav names pages that exist (mkdocs itself is not installed
here; `mkdocs build` where it is)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read mkdocs.yml")


def _nav_files(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [f for item in node for f in _nav_files(item)]
    if isinstance(node, dict):
        return [f for value in node.values() for f in _nav_files(value)]
    raise AssertionError(f"unexpected nav entry {node!r}")


def test_nav_finder_walks_sections():
    nav = [{"Home": "index.md"}, {"Data": [{"Events": "events.md"}, "io.md"]}]
    assert _nav_files(nav) == ["index.md", "events.md", "io.md"]


def test_every_nav_page_exists_once():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    docs = ROOT / config.get("docs_dir", "docs")
    pages = _nav_files(config["nav"])
    assert pages[0] == "index.md"
    assert len(pages) == len(set(pages)), "a page is in the nav twice"
    missing = [p for p in pages if not (docs / p).is_file()]
    assert not missing, f"mkdocs.yml nav names missing pages: {missing}"
