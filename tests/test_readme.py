"""The README's Python example runs as written (it is the first thing a researcher copies)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_runs(nmnist_small, monkeypatch, capsys):
    blocks = _python_blocks()
    assert len(blocks) == 1
    code = blocks[0]
    assert len(code.strip().splitlines()) <= 10
    # The example names the shared data by its path relative to the project root.
    monkeypatch.chdir(README.parent)
    code = code.replace("../shared/realdata/nmnist/NMNIST-small", str(nmnist_small))
    exec(compile(code, str(README), "exec"), {})
    first = capsys.readouterr().out
    label, predicted = first.split()
    assert 0 <= int(label) <= 9 and 0 <= int(predicted) <= 9
    # The example seeds torch: its printed line is the same on every run.
    exec(compile(code, str(README), "exec"), {})
    assert capsys.readouterr().out == first
