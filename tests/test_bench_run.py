"""tools/bench/run.py: the generated section replaces only the text between its markers, and a
suite runs end to end (the stc suite: small and fast) into the common result format."""

from __future__ import annotations

import json

import pytest

from tools.bench import run


def test_section_between_markers_is_replaced_and_the_rest_kept(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nhand-written\n")
    run.write_section(doc, "first")
    assert doc.read_text() == f"# Benchmarks\n\nhand-written\n\n{run.BEGIN}\nfirst\n{run.END}\n"
    doc.write_text(doc.read_text() + "\n## Later, by hand\n")
    run.write_section(doc, "second\n")
    text = doc.read_text()
    assert text.count(run.BEGIN) == 1 and "first" not in text
    assert text.startswith("# Benchmarks\n\nhand-written\n")
    assert text.endswith(f"{run.BEGIN}\nsecond\n{run.END}\n\n## Later, by hand\n")


def test_repetitions_are_interleaved_and_counted():
    calls = []
    times = run.repetitions({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                            reps=5, min_time=0.0)
    assert [len(v) for v in times.values()] == [5, 5]
    assert calls == ["a", "b"] * 6  # one warm-up each, then alternating


def test_fewer_than_five_repetitions_are_refused(capsys):
    with pytest.raises(SystemExit):
        run.main(["--only", "stc", "--repetitions", "3", "--no-docs"])
    assert "at least 5" in capsys.readouterr().err


def test_a_suite_runs_into_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert run.main(["--quick", "--only", "stc", "--no-docs", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    (row,) = result["rows"]
    assert row["benchmark"] == "stc" and row["repetitions"] == 5
    for side in ("ours", "theirs"):
        s = row[side]
        assert 0 < s["min_s"] <= s["median_s"] <= s["max_s"]
    assert row["ratio"] == pytest.approx(row["theirs"]["median_s"] / row["ours"]["median_s"])
    assert set(result["meta"]) >= {"date", "machine", "versions", "command"}
    text = capsys.readouterr().out
    assert "### stc" in text and result["meta"]["command"] in text
