"""Prophesee RAW EVT 2.0 / EVT 3.0: real files, hand-made word streams, round trips, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventcompress.errors import (
    CoordinateRangeError,
    EmptyFileError,
    HeaderError,
    NonMonotonicTimestampWarning,
    TimestampOrderError,
    TruncatedFileError,
)
from eventcompress.events import Events
from eventcompress.io.prophesee import (
    decode_evt2,
    decode_evt3,
    encode_evt2,
    encode_evt3,
    parse_header,
    read_evt2,
    read_evt3,
    sensor_size_from_plugin,
    write_evt2,
    write_evt3,
)

EVT2_HEADER = b"% evt 2.0\n% geometry 640x480\n% end\n"
EVT3_HEADER = b"% evt 3.0\n% geometry 1280x720\n% end\n"


def _raw(tmp_path: Path, header: bytes, words: list[int], dtype: str, name: str = "f.raw") -> Path:
    path = tmp_path / name
    path.write_bytes(header + np.asarray(words, dtype=dtype).tobytes())
    return path


# EVT 2.0 word builders
def cd2(x: int, y: int, lsb: int, p: int) -> int:
    return (p << 28) | (lsb << 22) | (x << 11) | y


def th2(v: int) -> int:
    return (0x8 << 28) | v


# EVT 3.0 word builders
def addr_y(y: int) -> int:
    return y


def addr_x(x: int, p: int) -> int:
    return (0x2 << 12) | (p << 11) | x


def vbase(x: int, p: int) -> int:
    return (0x3 << 12) | (p << 11) | x


def vect12(mask: int) -> int:
    return (0x4 << 12) | mask


def vect8(mask: int) -> int:
    return (0x5 << 12) | mask


def tlow(v: int) -> int:
    return (0x6 << 12) | v


def thigh(v: int) -> int:
    return (0x8 << 12) | v


def _fields(e: Events) -> list[list[int]]:
    return [e.x.tolist(), e.y.tolist(), e.t.tolist(), e.p.tolist()]


# --------------------------------------------------------------------------------------------
# Real recordings
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def evt_dir(realdata: Path) -> Path:
    return realdata / "other_formats" / "prophesee_evt"


def test_real_evt2_sample(evt_dir: Path) -> None:
    events = read_evt2(evt_dir / "evt2_sample.raw")
    assert len(events) == 539_481
    assert events.sensor_size == (640, 480)
    assert events.metadata["sensor_size_source"] == "plugin_name"
    assert events.metadata["header"]["plugin_name"] == "hal_plugin_gen3_fx3"
    assert int(events.x.max()) == 599 and int(events.y.max()) == 475
    assert events.is_sorted()
    assert (int(events.t[0]), int(events.t[-1])) == (1_317_888, 1_367_888)
    assert 0 < int(events.p.sum()) < len(events)
    assert events.metadata["n_events_before_time_high"] == 0
    assert events.metadata["n_unknown_words"] == 0


def test_real_evt2_matches_expelliarmus(evt_dir: Path) -> None:
    expelliarmus = pytest.importorskip("expelliarmus")
    ref = expelliarmus.Wizard(encoding="evt2").read(evt_dir / "evt2_sample.raw")
    events = read_evt2(evt_dir / "evt2_sample.raw")
    for name in "xytp":
        np.testing.assert_array_equal(getattr(events, name), ref[name])


def test_real_evt3_sample(evt_dir: Path) -> None:
    events = read_evt3(evt_dir / "evt3_sample.raw")
    ref = np.load(evt_dir / "evt3_sample.npy")
    assert len(events) == 219_596 == len(ref)
    assert events.sensor_size == (1280, 720)
    for name in "xyp":
        np.testing.assert_array_equal(getattr(events, name), ref[name])
    assert events.is_sorted()
    assert (int(events.t[0]), int(events.t[-1])) == (11_718_656, 11_727_457)


def test_real_decoders_match_readers(evt_dir: Path) -> None:
    for name, reader, decoder, dtype in (
        ("evt2_sample.raw", read_evt2, decode_evt2, "<u4"),
        ("evt3_sample.raw", read_evt3, decode_evt3, "<u2"),
    ):
        data = (evt_dir / name).read_bytes()
        offset = parse_header(data).payload_offset
        x, y, t, p = decoder(np.frombuffer(data, dtype=dtype, offset=offset))
        assert _fields(reader(evt_dir / name)) == [x.tolist(), y.tolist(), t.tolist(), p.tolist()]


@pytest.mark.parametrize("fmt", ["evt2", "evt3"])
def test_real_files_round_trip(evt_dir: Path, tmp_path: Path, fmt: str) -> None:
    reader, writer = (read_evt2, write_evt2) if fmt == "evt2" else (read_evt3, write_evt3)
    events = reader(evt_dir / f"{fmt}_sample.raw")
    out = tmp_path / "copy.raw"
    writer(out, events, header=events.metadata["header"])
    back = reader(out)
    assert back == events
    assert back.metadata["header"]["serial_number"] == events.metadata["header"]["serial_number"]
    assert back.metadata["sensor_size_source"] == "geometry"


# --------------------------------------------------------------------------------------------
# Hand-made EVT 2.0 streams
# --------------------------------------------------------------------------------------------
def test_evt2_decoding_rules(tmp_path: Path) -> None:
    words = [
        cd2(5, 6, 7, 1),  # before any TIME_HIGH: time_high = 0
        th2(10),
        cd2(1, 2, 3, 0),
        (0xA << 28) | 123,  # EXT_TRIGGER, OTHERS, CONTINUED: no CD event
        (0xE << 28) | 5,
        (0xF << 28) | 9,
        cd2(639, 479, 63, 1),
        th2(0x0FFFFFFF),
        cd2(0, 0, 0, 1),
        th2(2),  # smaller than the previous TIME_HIGH: one 2**34 us wrap
        cd2(4, 4, 1, 0),
    ]
    events = read_evt2(_raw(tmp_path, EVT2_HEADER, words, "<u4"), on_unsorted="ignore")
    assert _fields(events) == [
        [5, 1, 639, 0, 4],
        [6, 2, 479, 0, 4],
        [7, (10 << 6) | 3, (10 << 6) | 63, 0x0FFFFFFF << 6, (1 << 34) | (2 << 6) | 1],
        [1, 0, 1, 1, 0],
    ]
    assert events.metadata["n_events_before_time_high"] == 1


def test_evt2_unknown_words_warn(tmp_path: Path) -> None:
    words = [th2(1), cd2(1, 1, 1, 1), (0x3 << 28) | 1, (0x5 << 28), cd2(2, 2, 2, 0)]
    with pytest.warns(UserWarning, match=r"skipped 2 EVT 2.0 word\(s\).*byte offset 43"):
        events = read_evt2(_raw(tmp_path, EVT2_HEADER, words, "<u4"))
    assert len(events) == 2 and events.metadata["n_unknown_words"] == 2


# --------------------------------------------------------------------------------------------
# Hand-made EVT 3.0 streams
# --------------------------------------------------------------------------------------------
def test_evt3_decoding_rules(tmp_path: Path) -> None:
    words = [
        addr_x(9, 1),  # before TIME_HIGH and ADDR_Y: t = 0, y = 0
        thigh(0xABC),
        tlow(0x123),
        addr_y(700),
        addr_x(1279, 0),
        vbase(100, 1),
        vect12(0b100000000101),  # x = 100, 102, 111; base -> 112
        vect8(0b10000001),  # x = 112, 119; base -> 120
        (0x7 << 12) | 3,  # CONTINUED_4, EXT_TRIGGER, OTHERS, CONTINUED_12: skipped
        (0xA << 12) | 1,
        (0xE << 12) | 2,
        (0xF << 12) | 0xFFF,
        vect8(0b1),  # x = 120
        addr_y(5),
        thigh(0x001),  # 0x001 < 0xABC: one 2**24 us wrap
        addr_x(0, 1),
        tlow(0xFFF),
        addr_x(3, 0),
    ]
    events = read_evt3(_raw(tmp_path, EVT3_HEADER, words, "<u2"), on_unsorted="ignore")
    t1 = (0xABC << 12) | 0x123
    t2 = (1 << 24) | (0x001 << 12) | 0x123
    t3 = (1 << 24) | (0x001 << 12) | 0xFFF
    assert _fields(events) == [
        [9, 1279, 100, 102, 111, 112, 119, 120, 0, 3],
        [0, 700, 700, 700, 700, 700, 700, 700, 5, 5],
        [0, t1, t1, t1, t1, t1, t1, t1, t2, t3],
        [1, 0, 1, 1, 1, 1, 1, 1, 1, 0],
    ]
    assert events.metadata["n_events_before_time_high"] == 1


def test_evt3_keep_alive_time_low_does_not_advance(tmp_path: Path) -> None:
    # TIME_HIGH h, TIME_LOW a, TIME_LOW b < a with no event between (seen in real files): the
    # time is simply (h << 12) | low, never an extra 4096 us.
    words = [thigh(7), tlow(50), addr_y(1), addr_x(2, 1), thigh(8), tlow(4000), tlow(10),
             addr_x(3, 1)]
    events = read_evt3(_raw(tmp_path, EVT3_HEADER, words, "<u2"))
    assert events.t.tolist() == [(7 << 12) | 50, (8 << 12) | 10]


def test_unsorted_policy_applies(tmp_path: Path) -> None:
    words = [thigh(1), addr_y(0), tlow(100), addr_x(1, 1), tlow(50), addr_x(2, 1)]
    path = _raw(tmp_path, EVT3_HEADER, words, "<u2")
    with pytest.warns(NonMonotonicTimestampWarning):
        assert read_evt3(path).x.tolist() == [1, 2]
    assert read_evt3(path, on_unsorted="sort").x.tolist() == [2, 1]
    with pytest.raises(TimestampOrderError, match="event 1"):
        read_evt3(path, on_unsorted="error")
    words2 = [th2(5), cd2(1, 1, 10, 1), cd2(2, 2, 3, 1)]
    path2 = _raw(tmp_path, EVT2_HEADER, words2, "<u4", "2.raw")
    with pytest.raises(TimestampOrderError, match="event 1"):
        read_evt2(path2, on_unsorted="error")
    assert read_evt2(path2, on_unsorted="sort").x.tolist() == [2, 1]


def test_time_going_back_between_events_only_is_not_unsorted(tmp_path: Path) -> None:
    # keep-alive TIME_LOW steps back with no event in between: the events themselves are sorted
    words = [thigh(1), addr_y(0), tlow(100), addr_x(1, 1), tlow(200), tlow(150), addr_x(2, 1)]
    path = _raw(tmp_path, EVT3_HEADER, words, "<u2")
    assert read_evt3(path, on_unsorted="error").t.tolist() == [4196, 4246]


def test_decoders_reject_wrong_word_types() -> None:
    with pytest.raises(TypeError):
        decode_evt2(np.zeros(3, np.uint16))
    with pytest.raises(TypeError):
        decode_evt3(np.zeros(3, np.int32))
    x, y, t, p = decode_evt3(np.zeros(0, np.uint16))
    assert len(x) == len(y) == len(t) == len(p) == 0


# --------------------------------------------------------------------------------------------
# Writers: round trips (hypothesis) and word-level checks
# --------------------------------------------------------------------------------------------
SENSORS = [(1280, 720), (2048, 2048), (640, 480), (1, 1)]
START_TIMES = [0, 1, 4095, 4096, (1 << 24) - 3, (1 << 34) - 2, 123_456_789]


@st.composite
def sorted_streams(draw: st.DrawFn) -> Events:
    width, height = draw(st.sampled_from(SENSORS))
    coord_x = st.one_of(st.sampled_from([0, width - 1]), st.integers(0, width - 1))
    coord_y = st.one_of(st.sampled_from([0, height - 1]), st.integers(0, height - 1))
    dt = st.one_of(
        st.just(0), st.integers(1, 70), st.sampled_from([4095, 4096, 4097, 1 << 12, 1 << 24]),
        st.integers(1, 1 << 26),
    )
    t = draw(st.sampled_from(START_TIMES))
    xs, ys, ts, ps = [], [], [], []
    for _ in range(draw(st.integers(0, 25))):
        t += draw(dt)
        y, p, x0 = draw(coord_y), draw(st.integers(0, 1)), draw(coord_x)
        # a burst at one (t, y, p): consecutive or gapped x, i.e. vector material
        step = draw(st.sampled_from([1, 1, 2, 5, 13]))
        for k in range(draw(st.integers(1, 30))):
            x = x0 + k * step
            if x >= width:
                break
            xs.append(x)
            ys.append(y)
            ts.append(t)
            ps.append(p)
    return Events(
        np.array(xs, np.int64), np.array(ys, np.int64), np.array(ts, np.int64),
        np.array(ps, np.int64), (width, height),
    )


@given(events=sorted_streams())
def test_evt2_round_trip(tmp_path_factory: pytest.TempPathFactory, events: Events) -> None:
    path = tmp_path_factory.mktemp("evt2") / "rt.raw"
    write_evt2(path, events)
    back = read_evt2(path)
    assert back == events
    assert back.metadata["n_events_before_time_high"] == 0


@given(events=sorted_streams(), use_vectors=st.booleans())
def test_evt3_round_trip(
    tmp_path_factory: pytest.TempPathFactory, events: Events, use_vectors: bool
) -> None:
    path = tmp_path_factory.mktemp("evt3") / "rt.raw"
    write_evt3(path, events, use_vectors=use_vectors)
    back = read_evt3(path)
    assert back == events
    words = encode_evt3(events, use_vectors=use_vectors)
    assert len(words) <= 4 * len(events) + 2 * (int(events.t[-1]) >> 24 if len(events) else 0) + 4
    if not use_vectors:
        assert not np.isin(words >> 12, [3, 4, 5]).any()


def _events(x, y, t, p, size=(1280, 720)) -> Events:  # noqa: ANN001
    return Events(np.array(x), np.array(y), np.array(t), np.array(p), size)


def test_evt3_writer_uses_vectors_for_runs() -> None:
    run = _events(list(range(100, 112)), [3] * 12, [5] * 12, [1] * 12)
    kinds = (encode_evt3(run) >> 12).tolist()
    # TIME_HIGH (first), TIME_LOW, ADDR_Y, VECT_BASE_X, one VECT_12 for 12 consecutive pixels
    assert kinds == [0x8, 0x6, 0x0, 0x3, 0x4]
    tail = _events(list(range(100, 117)), [3] * 17, [5] * 17, [0] * 17)
    assert (encode_evt3(tail) >> 12).tolist() == [0x8, 0x6, 0x0, 0x3, 0x4, 0x5]
    lone = _events([7], [3], [5], [1])
    assert (encode_evt3(lone) >> 12).tolist() == [0x8, 0x6, 0x0, 0x2]
    assert (encode_evt3(run, use_vectors=False) >> 12).tolist() == [0x8, 0x6, 0x0] + [0x2] * 12


def test_evt3_writer_starts_every_vector_chain_with_a_base(tmp_path: Path) -> None:
    # Cameras emit VECT_BASE_X right before every vector chain, and some decoders (expelliarmus)
    # share one polarity between ADDR_X and vectors, so the writer never continues a vector
    # state across other words: a new row at small x right after a vector chain gets its own base.
    events = _events(
        [100, 101, 102, 103, 2, 3, 4, 50, 0, 1, 2],
        [3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4],
        [5, 5, 5, 5, 5, 5, 5, 5, 9, 9, 9],
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    )
    words = encode_evt3(events)
    kinds = (words >> 12).tolist()
    for i, kind in enumerate(kinds):
        if kind in (4, 5):
            assert kinds[i - 1] in (3, 4, 5)
    write_evt3(tmp_path / "v.raw", events)
    assert read_evt3(tmp_path / "v.raw") == events


def test_writers_cross_time_wraps_exactly(tmp_path: Path) -> None:
    t = [0, (1 << 24) - 1, 1 << 24, (5 << 24) + 17, (5 << 24) + 17, (1 << 34) + 5, (3 << 34)]
    events = _events([1, 2, 3, 4, 5, 6, 7], [0, 0, 1, 1, 2, 2, 719], t, [0, 1, 0, 1, 0, 1, 1])
    for writer, reader in ((write_evt2, read_evt2), (write_evt3, read_evt3)):
        writer(tmp_path / "w.raw", events)
        assert reader(tmp_path / "w.raw") == events


def test_writers_reject_unwritable_events(tmp_path: Path) -> None:
    path = tmp_path / "bad.raw"
    for writer in (write_evt2, write_evt3):
        with pytest.raises(ValueError, match="time-sorted.*event 1"):
            writer(path, _events([1, 2], [1, 1], [10, 5], [1, 1]))
        with pytest.raises(ValueError, match="negative"):
            writer(path, _events([1], [1], [-1], [1]))
        with pytest.raises(ValueError, match=r"event 1 at \(x=1280"):
            writer(path, _events([1, 1280], [1, 1], [1, 2], [1, 1]))
        with pytest.raises(ValueError, match="polarity"):
            writer(path, _events([1], [1], [1], [2]))
        with pytest.raises(ValueError, match="relative times"):
            writer(path, _events([1], [1], [1_605_537_493_718_345], [1]))
        with pytest.raises(ValueError, match="11-bit"):
            writer(path, _events([1], [1], [1], [1], size=(4096, 10)))
    assert encode_evt2(Events.empty((4, 4))).size == 0


def test_written_header(tmp_path: Path) -> None:
    path = tmp_path / "h.raw"
    write_evt3(path, _events([1], [2], [3], [1], size=(320, 320)), header={"serial_number": "00ab"})
    head = parse_header(path.read_bytes())
    assert head.entries == {
        "serial_number": "00ab", "evt": "3.0", "format": "EVT3;height=320;width=320",
        "geometry": "320x320",
    }
    assert head.version == "3.0" and head.geometry == (320, 320)
    with pytest.raises(ValueError, match="one ASCII line"):
        write_evt2(path, _events([1], [2], [3], [1]), header={"note": "two\nlines"})


# --------------------------------------------------------------------------------------------
# Header parsing and sensor size
# --------------------------------------------------------------------------------------------
def test_header_stops_at_end_line_even_if_payload_starts_with_percent() -> None:
    payload = b"% \x01\x02"  # a payload word whose first bytes happen to read "% "
    head = parse_header(b"% evt 2.0\n% end\n" + payload)
    assert head.payload_offset == 16 and head.entries == {"evt": "2.0"}
    # without "% end", a '%' line holding non-printable bytes is payload, not header
    assert parse_header(b"% evt 2.0\n" + payload + b"\n").payload_offset == 10


def test_header_longer_than_the_first_read_chunk(tmp_path: Path) -> None:
    header = b"% evt 2.0\n% note " + b"a" * 70_000 + b"\n% geometry 8x8\n"
    path = _raw(tmp_path, header, [th2(1), cd2(7, 7, 2, 1)], "<u4")
    events = read_evt2(path)
    assert events.sensor_size == (8, 8) and events.t.tolist() == [66]
    assert len(events.metadata["header"]["note"]) == 70_000


def test_sensor_size_resolution(tmp_path: Path) -> None:
    words = [th2(0), cd2(100, 100, 0, 1)]
    gen41 = _raw(tmp_path, b"% evt 2.0\n% plugin_name hal_plugin_gen41_evk3\n", words, "<u4", "a")
    assert read_evt2(gen41).sensor_size == (1280, 720)
    fmt = _raw(tmp_path, b"% format EVT2;height=200;width=300\n", words, "<u4", "b")
    assert read_evt2(fmt).sensor_size == (300, 200)
    assert read_evt2(fmt, sensor_size=(640, 480)).metadata["sensor_size_source"] == "argument"
    assert sensor_size_from_plugin("hal_plugin_imx636_evk4") == (1280, 720)
    assert sensor_size_from_plugin("hal_plugin_gen3_fx3") == (640, 480)
    assert sensor_size_from_plugin("hal_plugin_genx320_evk3") == (320, 320)
    assert sensor_size_from_plugin("hal_plugin_atis_fx3") is None
    bare = _raw(tmp_path, b"% evt 2.0\n% plugin_name my_camera\n", words, "<u4", "c")
    with pytest.raises(HeaderError, match="my_camera.*sensor_size"):
        read_evt2(bare)
    assert read_evt2(bare, sensor_size=(101, 101)).sensor_size == (101, 101)
    no_header = _raw(tmp_path, b"", words, "<u4", "d")
    with pytest.raises(HeaderError, match="no plugin_name"):
        read_evt2(no_header)


@pytest.mark.parametrize(
    ("header", "match", "offset"),
    [
        (b"% evt 3.0\n", r"declares EVT 3.0 \(use read_evt3\)", 0),
        (b"% date x\n% format EVT3;height=720;width=1280\n", "declares EVT 3.0", 9),
        (b"% evt 2.1\n", r"declares EVT 2.1 \(not supported", 0),
        (b"% evt 9.9\n", "unsupported EVT version '9.9'", 0),
        (b"% evt 2.0\n% format EVT3\n", "contradicts", 10),
        (b"% evt 2.0\n% geometry 640 by 480\n", "cannot parse '% geometry 640 by 480'", 10),
        (b"% evt 2.0\n% geometry 0x480\n", "width '0'", 10),
        (b"% geometry 640x480\n% format EVT2;height=48;width=64\n", "contradicts", 0),
        (b"% format EVT2;height\n", "malformed option", 0),
    ],
)
def test_bad_headers(tmp_path: Path, header: bytes, match: str, offset: int) -> None:
    path = _raw(tmp_path, header, [th2(0)], "<u4")
    with pytest.raises(HeaderError, match=match) as info:
        read_evt2(path, sensor_size=(640, 480))
    assert info.value.offset == offset
    assert str(path) in str(info.value)


def test_evt3_reader_rejects_evt2_header(tmp_path: Path) -> None:
    path = _raw(tmp_path, EVT2_HEADER, [th2(0)], "<u4")
    with pytest.raises(HeaderError, match=r"declares EVT 2.0 \(use read_evt2\).*EVT 3.0"):
        read_evt3(path)


# --------------------------------------------------------------------------------------------
# Bad payloads
# --------------------------------------------------------------------------------------------
def test_truncated_payload(tmp_path: Path) -> None:
    path = tmp_path / "t.raw"
    words = np.array([th2(1), cd2(1, 1, 1, 1)], "<u4")
    path.write_bytes(EVT2_HEADER + words.tobytes() + b"\x01\x02")
    with pytest.raises(TruncatedFileError, match=r"byte offset 43.*inside a 4-byte word") as info:
        read_evt2(path)
    assert info.value.offset == len(EVT2_HEADER) + 8
    path.write_bytes(EVT3_HEADER + b"\x00\x80\x01")
    with pytest.raises(TruncatedFileError) as info:
        read_evt3(path)
    assert info.value.offset == len(EVT3_HEADER) + 2


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "e.raw"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError, match="empty"):
        read_evt3(empty)
    only = _raw(tmp_path, EVT3_HEADER, [], "<u2", "h.raw")
    events = read_evt3(only)
    assert len(events) == 0 and events.sensor_size == (1280, 720)


def test_coordinates_outside_sensor(tmp_path: Path) -> None:
    words2 = [th2(0), cd2(1, 1, 0, 1), cd2(1, 1, 0, 1), cd2(640, 3, 0, 1)]
    path2 = _raw(tmp_path, EVT2_HEADER, words2, "<u4", "a.raw")
    with pytest.raises(CoordinateRangeError, match=r"event 2 at \(x=640, y=3\).*640x480") as info:
        read_evt2(path2)
    assert info.value.offset == len(EVT2_HEADER) + 12
    assert read_evt2(path2, check_range=False).x.tolist() == [1, 1, 640]

    # vector events: the offending event's word is the VECT_12 word at index 5
    words3 = [thigh(0), addr_y(719), addr_x(3, 1), vbase(1275, 0), tlow(1), vect12(0b100001)]
    path3 = _raw(tmp_path, EVT3_HEADER, words3, "<u2", "b.raw")
    with pytest.raises(CoordinateRangeError, match=r"event 2 at \(x=1280, y=719\)") as info:
        read_evt3(path3)
    assert info.value.offset == len(EVT3_HEADER) + 10
    assert read_evt3(path3, check_range=False).x.tolist() == [3, 1275, 1280]

    # rows and vector bases outside the sensor that carry no event are not errors
    words3 = [thigh(0), addr_y(900), addr_y(1), addr_x(3, 1), vbase(2040, 1), vect12(0)]
    assert read_evt3(_raw(tmp_path, EVT3_HEADER, words3, "<u2", "c.raw")).x.tolist() == [3]
