"""Every Python example in README.md and docs/*.md runs as written, so none can drift.

Conventions for whoever writes docs (one parametrised test per Markdown file):

* Every fenced block opened with ```` ```python ```` is run. Blocks of other languages
  (``sh``, ``toml``, unlabelled formula or folder-tree blocks) are not run.
* A Python block that must not run (it needs a GPU, a download, or shows a fragment) is marked
  by the line ``<!-- no-run -->`` (optionally with a reason: ``<!-- no-run: needs CUDA -->``)
  directly above its opening fence.
* The blocks of one file run in order in one namespace (a later block may use what an earlier
  one defined), in a fresh Python process (global state such as a registered model does not
  leak) and a fresh temporary working directory, so examples may write files freely.
* Real data is named by the path ``../shared/realdata/...`` (as in the README); it is replaced
  by the real-data folder (``EVENTCOMPRESS_REALDATA``, see conftest.py). A file whose blocks
  name it is skipped, with a message, where that folder is absent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REALDATA

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REALDATA_TEXT = "../shared/realdata"
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
_NO_RUN = re.compile(r"<!--\s*no-run\b[^>]*-->\s*$")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every ```python block not marked ``<!-- no-run -->``."""
    blocks = []
    for m in _FENCE.finditer(text):
        if m.group(1).strip() != "python":
            continue
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if _NO_RUN.search(before):
            continue
        blocks.append((text.count("\n", 0, m.start()) + 2, m.group(2)))
    return blocks


def test_block_finder_follows_the_conventions() -> None:
    text = ("intro\n```python\na = 1\n```\n<!-- no-run: needs CUDA -->\n```python\nb = 2\n```\n"
            "```sh\nmake demo\n```\n```\nx = b0\n```\n```python\nc = a + 1\n```\n")
    assert python_blocks(text) == [(3, "a = 1\n"), (16, "c = a + 1\n")]


_DRIVER = """
import json, sys, traceback
import matplotlib
matplotlib.use("Agg")
doc, blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__doc_example__"}
for line, code in blocks:
    try:
        exec(compile("\\n" * (line - 1) + code, doc, "exec"), namespace)
    except BaseException:
        print(f"block at line {line} fails:", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
"""


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_python_blocks_run(doc: Path, tmp_path: Path) -> None:
    """The blocks run in a subprocess: examples may register models or set global state
    without leaking into other tests."""
    blocks = python_blocks(doc.read_text())
    if not blocks:
        pytest.skip(f"{doc.name} has no Python block")
    if any(REALDATA_TEXT in code for _, code in blocks) and not REALDATA.is_dir():
        pytest.skip(f"{doc.name} names real data, not found at {REALDATA} "
                    "(set EVENTCOMPRESS_REALDATA)")
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps([str(doc), [(line, code.replace(REALDATA_TEXT, str(REALDATA)))
                                           for line, code in blocks]]))
    work = tmp_path / "cwd"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), "NUMBA_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _DRIVER, str(spec)], cwd=work, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"{doc.name}: {out.stderr[-3000:]}"


_DOTTED = re.compile(r"`(eventcompress(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _resolve(dotted: str) -> bool:
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_dotted_names_in_docs_exist(doc: Path) -> None:
    """Every `eventcompress.x.y` a page names in backticks can be imported or looked up."""
    names = sorted(set(_DOTTED.findall(doc.read_text())))
    missing = [n for n in names if not _resolve(n)]
    assert not missing, f"{doc.name} names what does not exist: {missing}"
