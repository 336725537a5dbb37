"""stratified_split: exact per-class proportions, reproducibility, a pinned result."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventcompress.datasets import stratified_split


@given(
    labels=st.lists(st.integers(0, 5), min_size=0, max_size=200),
    fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_partition_and_exact_proportions(labels: list[int], fraction: float, seed: int) -> None:
    labels_arr = np.array(labels, np.int64)
    train, val = stratified_split(labels_arr, fraction, seed)
    assert train.dtype == np.int64 and val.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(len(labels)))
    for c in np.unique(labels_arr):
        n_c = int(np.sum(labels_arr == c))
        assert int(np.sum(labels_arr[val] == c)) == int(np.floor(fraction * n_c + 0.5))
    again = stratified_split(labels_arr, fraction, seed)
    assert np.array_equal(again[1], val)


def test_seed_changes_split() -> None:
    labels = np.repeat(np.arange(10), 100)
    _, a = stratified_split(labels, 0.1, 0)
    _, b = stratified_split(labels, 0.1, 1)
    assert len(a) == len(b) == 100
    assert not np.array_equal(a, b)


def test_pinned_result_and_other_process() -> None:
    # Pinned so that a change of algorithm (or of numpy's PCG64 stream) is noticed.
    labels = np.repeat(np.arange(3), 10)
    _, val = stratified_split(labels, 0.2, 0)
    assert val.tolist() == PINNED
    code = ("import numpy as np; from eventcompress.datasets import stratified_split;"
            "print(stratified_split(np.repeat(np.arange(3), 10), 0.2, 0)[1].tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(PINNED)


PINNED = [4, 6, 12, 19, 24, 25]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        stratified_split(np.zeros((2, 2)), 0.1, 0)
    with pytest.raises(ValueError):
        stratified_split(np.zeros(4), 1.5, 0)
