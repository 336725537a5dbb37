"""tonic-style transform classes against tonic itself, on tonic's structured arrays and inside
a tonic dataset class reading real N-MNIST files."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_oracle

from eventcompress import Events
from eventcompress.data import EventDataset
from eventcompress.data import transforms as T
from eventcompress.kernels import Denoise, Pipeline, STCConfig

SENSOR = (34, 34, 2)
NMNIST_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])  # tonic's N-MNIST


def _tonic():
    return require_oracle("tonic")


def _structured(n: int = 3000, seed: int = 0, dtype=NMNIST_DTYPE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype)
    ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    ev["t"] = np.sort(rng.integers(0, 300_000, n))
    ev["p"] = rng.integers(0, 2, n)
    return ev


@pytest.fixture(scope="module")
def tonic_nmnist(nmnist_small, tmp_path_factory):
    """tonic.datasets.NMNIST over our real N-MNIST files, offline.

    tonic's class refuses a folder with fewer than 10,000 .bin files or without the
    downloaded zip (and would then download it), so ``_check_exists`` is overridden; the class
    must be called NMNIST because tonic looks for ``save_to/<class name>/Train``."""
    tonic = _tonic()
    root = tmp_path_factory.mktemp("tonic")
    (root / "NMNIST").mkdir()
    (root / "NMNIST" / "Train").symlink_to(nmnist_small / "Train")

    class NMNIST(tonic.datasets.NMNIST):
        def _check_exists(self) -> bool:
            return True

    return NMNIST, root


KWARGS = [dict(n_time_bins=5), dict(n_event_bins=3, overlap=0.25), dict(time_window=20_000.0),
          dict(event_count=1500, include_incomplete=True), dict(time_window=30_000.0,
                                                                 overlap=5000.0)]


@pytest.mark.parametrize("kw", KWARGS, ids=lambda k: ",".join(k))
@pytest.mark.parametrize("dtype", [NMNIST_DTYPE, np.dtype([("t", "<i8"), ("x", "<i2"),
                                                             ("y", "<i2"), ("p", bool)])])
def test_to_frame_tonic_edges_is_tonic(kw, dtype):
    tonic = _tonic()
    ev = _structured(dtype=dtype)
    expected = tonic.transforms.ToFrame(sensor_size=SENSOR, **kw)(ev.copy())
    got = T.ToFrame(SENSOR, edges="tonic", **kw)(ev)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kw", [dict(n_time_bins=4), dict(time_window=1000.0)])
def test_to_frame_tonic_empty_input_is_tonic(kw):
    tonic = _tonic()
    ev = _structured(0)
    expected = tonic.transforms.ToFrame(sensor_size=(30, 20, 2), **kw)(ev)
    got = T.ToFrame((30, 20, 2), edges="tonic", **kw)(ev)
    assert got.dtype == expected.dtype and got.shape == expected.shape


def test_to_frame_fixed_edges_keeps_every_event_where_tonic_drops_some():
    tonic = _tonic()
    ev = _structured()
    fixed = T.ToFrame(SENSOR, n_time_bins=5)(ev)
    assert int(fixed.sum()) == len(ev)
    assert int(tonic.transforms.ToFrame(sensor_size=SENSOR, n_time_bins=5)(ev.copy()).sum()) \
        < len(ev)


def test_to_frame_single_polarity_sensor_merges():
    ev = _structured()
    merged = T.ToFrame((34, 34, 1), n_time_bins=2)(ev)
    split = T.ToFrame(SENSOR, n_time_bins=2)(ev)
    assert merged.shape == (2, 1, 34, 34)
    np.testing.assert_array_equal(merged[:, 0], split.sum(axis=1))


def test_to_stc_equals_stc_config_on_events():
    ev = _structured()
    cfg = STCConfig(steps=4, tau_s=50_000.0)
    got = T.ToSTC(SENSOR, steps=4, tau_s=50_000.0)(ev)
    np.testing.assert_array_equal(got, cfg(Events.from_structured(ev, (34, 34))))


@pytest.mark.parametrize("ours, theirs", [
    (lambda: T.Denoise(filter_time=3000), lambda t: t.transforms.Denoise(filter_time=3000)),
    (lambda: T.RefractoryPeriod(delta=2000), lambda t: t.transforms.RefractoryPeriod(delta=2000)),
    (lambda: T.DropPixel(coordinates=[(3, 4), (10, 10), (33, 0)]),
     lambda t: t.transforms.DropPixel(coordinates=[(3, 4), (10, 10), (33, 0)])),
    (lambda: T.DropPixel(hot_pixel_frequency=20),
     lambda t: t.transforms.DropPixel(hot_pixel_frequency=20)),
    (lambda: T.TimeSkew(coefficient=1.25, offset=-40),
     lambda t: t.transforms.TimeSkew(coefficient=1.25, offset=-40)),
], ids=["denoise", "refractory", "drop-pixel-list", "drop-pixel-hot", "time-skew"])
def test_deterministic_event_steps_are_tonic(ours, theirs):
    tonic = _tonic()
    ev = _structured(4000, seed=3)
    expected = theirs(tonic)(ev.copy())
    got = ours()(ev)
    assert got.dtype == ev.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("make", [
    lambda: T.DropEvent(p=0.3, seed=1), lambda: T.DropEventByTime(0.3, seed=1),
    lambda: T.DropEventByArea(SENSOR, 0.4, seed=1), lambda: T.TimeJitter(100, seed=1),
    lambda: T.SpatialJitter(SENSOR, 2, 2, clip_outliers=True, seed=1),
    lambda: T.UniformNoise(SENSOR, 200, seed=1), lambda: T.TimeSkew((0.9, 1.1), seed=1),
], ids=["drop", "drop-time", "drop-area", "time-jitter", "spatial-jitter", "noise", "skew"])
def test_random_event_steps_keep_the_dtype_and_are_seeded_per_call(make):
    ev = _structured(2000, seed=5)
    a, b = make(), make()
    out_a, out_b = a(ev), b(ev)
    assert out_a.dtype == ev.dtype
    np.testing.assert_array_equal(out_a, out_b)  # same seed, same first draw
    assert not np.array_equal(a(ev), out_a) or len(out_a) == 0  # next call draws anew


def test_transforms_inside_a_tonic_dataset_class(tonic_nmnist, nmnist_small):
    """Our classes as tonic dataset transforms give tonic's frames (edges="tonic") and the STC
    tensors of our own EventDataset for the same files."""
    tonic = _tonic()
    cls, root = tonic_nmnist
    ours = cls(str(root), train=True, transform=T.ToFrame(cls.sensor_size, n_time_bins=5,
                                                          edges="tonic"))
    theirs = cls(str(root), train=True,
                 transform=tonic.transforms.ToFrame(sensor_size=cls.sensor_size, n_time_bins=5))
    stc = cls(str(root), train=True,
              transform=tonic.transforms.Compose([T.Denoise(5000),
                                                  T.ToSTC(cls.sensor_size, 4, 50_000.0)]))
    pipe = Pipeline(steps=(Denoise(5000),), representation=STCConfig(steps=4, tau_s=50_000.0))
    ev_ds = EventDataset("nmnist", nmnist_small, "train", pipe)
    assert len(ours) == len(ev_ds) == 1000
    by_id = {sid: k for k, sid in enumerate(ev_ds.sample_ids)}
    for i in (0, 137, 999):
        (f_ours, y1), (f_theirs, y2) = ours[i], theirs[i]
        np.testing.assert_array_equal(f_ours, f_theirs)
        assert y1 == y2
        path = ours.data[i]
        sid = "Train/" + "/".join(path.rsplit("/", 2)[-2:])[:-4]
        x, label = ev_ds[by_id[sid]]
        np.testing.assert_array_equal(stc[i][0], x.numpy())
        assert label == y1
