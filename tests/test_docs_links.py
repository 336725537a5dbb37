"""Every relative link in README.md and docs/*.md points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def relative_links(page: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(page.read_text(encoding="utf-8"))
            if not m.group(1).startswith(("http://", "https://", "mailto:"))]


def test_link_pattern_finds_relative_links_only() -> None:
    text = "[a](docs/x.md) [b](https://e.org/y) [c](img/s.svg#top) [d](#anchor)"
    assert [m.group(1) for m in LINK.finditer(text)] == ["docs/x.md", "https://e.org/y",
                                                          "img/s.svg"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    missing = [t for t in relative_links(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"
