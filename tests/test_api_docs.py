"""docs/api.md lists exactly the public names (``__all__``) and is what the generator writes."""

from __future__ import annotations

import importlib
import re

from tools import make_api_docs

ENTRY = re.compile(r"^### `([A-Za-z0-9_.]+)`$", re.M)


def _listed() -> list[str]:
    return ENTRY.findall(make_api_docs.OUT.read_text(encoding="utf-8"))


def test_api_page_lists_exactly_the_public_names():
    expected = {f"{m}.{name}" for m in make_api_docs.public_modules()
                for name in importlib.import_module(m).__all__}
    listed = _listed()
    assert len(listed) == len(set(listed)), "a name is listed twice"
    assert set(listed) == expected, (f"missing: {sorted(expected - set(listed))}; "
                                     f"not public: {sorted(set(listed) - expected)}")


def test_public_modules_are_the_package_its_subpackages_and_the_named_modules():
    modules = make_api_docs.public_modules()
    assert modules[0] == "eventcompress"
    for sub in ("eventcompress.cache", "eventcompress.data", "eventcompress.kernels",
                "eventcompress.nn", "eventcompress.train", "eventcompress.plot"):
        assert sub in modules
    assert "eventcompress.commands" not in modules


def test_api_page_is_up_to_date():
    assert make_api_docs.main(["--check"]) == 0, "run: python tools/make_api_docs.py"


def test_a_new_public_name_makes_the_check_fail(monkeypatch):
    import eventcompress.plot as plot

    monkeypatch.setattr(plot, "__all__", [*plot.__all__, "INSTALL_HINT"])
    assert "### `eventcompress.plot.INSTALL_HINT`" in make_api_docs.render()
    assert make_api_docs.main(["--check"]) == 1
