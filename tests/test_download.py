"""Downloads against a local HTTP server: md5, unpacking, resume, bad archives. No outside network."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from eventcompress.cli import main
from eventcompress.datasets import CIFAR10DVS, NMNIST, DVSGesture, sources
from eventcompress.datasets import download as dl
from eventcompress.datasets.archive import extract_archive
from eventcompress.errors import ChecksumError, FormatError


class Server:
    """Serves ``files`` (name -> bytes) on 127.0.0.1; records (path, Range header, bytes sent)."""

    def __init__(self, honour_range: bool) -> None:
        self.files: dict[str, bytes] = {}
        self.log: list[tuple[str, str | None, int]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                name = self.path.lstrip("/").split("/", 1)[-1]
                data = server.files.get(name)
                rng = self.headers.get("Range")
                if data is None:
                    server.log.append((name, rng, 0))
                    self.send_error(404)
                    return
                start = 0
                if rng and honour_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        server.log.append((name, rng, 0))
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                # logged before sending: the client may return before this thread goes on
                server.log.append((name, rng, len(body)))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mirror"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server(honour_range=True)
    yield s
    s.close()


@pytest.fixture
def rangeless_server() -> Iterator[Server]:
    s = Server(honour_range=False)
    yield s
    s.close()


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_tar_gz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def nmnist_archives() -> dict[str, bytes]:
    # Train.zip packs a top-level Train/ folder; Test.zip packs the digit folders directly:
    # both land in ROOT/Train and ROOT/Test.
    record = bytes([1, 2, 0x80, 0, 5])
    train = make_zip({f"Train/{d}/{i:05d}.bin": record * (i + 1) for d in range(3) for i in (1, 2)})
    test = make_zip({f"{d}/{i:05d}.bin": record for d in (4, 5) for i in (7, 8, 9)})
    return {"Train.zip": train, "Test.zip": test}


MENDELEY = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"
NMNIST_FILE_IDS = {"Train.zip": "39c25547-014b-4137-a934-9d29fa53c7a0",
                   "Test.zip": "05a4d654-7e03-4c15-bdfa-9bb2bcbea494"}


def local_url(server: Server, public_url: str) -> str:
    """The public URL's path under the test server (same last segments, no outside network)."""
    assert public_url.startswith(MENDELEY)
    return f"{server.url}/{public_url.removeprefix(MENDELEY)}"


@pytest.fixture
def nmnist_served(server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """N-MNIST archives served both by file name (mirror) and under the Mendeley file paths;
    the source's URLs point at the local server and its md5s at the served bytes."""
    files = nmnist_archives()
    server.files.update(files)
    src = sources.SOURCES[("nmnist", "original")]
    for r in src.resources:
        server.files[r.url.removeprefix(MENDELEY)] = files[r.filename]
    patched = tuple(
        sources.Resource(r.filename, md5(files[r.filename]), local_url(server, r.url),
                         r.extract_to, alt_names=r.alt_names)
        for r in src.resources
    )
    monkeypatch.setitem(sources.SOURCES, ("nmnist", "original"),
                        sources.Source(src.dataset, src.name, patched, src.description, src.manual))
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)
    return server


def test_nmnist_public_urls_are_the_mendeley_files() -> None:
    """The URLs and md5s tonic (neuromorphs/tonic, tonic/datasets/nmnist.py) downloads from."""
    src = sources.get_source("nmnist")
    assert [(r.filename, r.md5, r.url) for r in src.resources] == [
        ("Train.zip", "20959b8e626244a1b502305a9e6e2031",
         MENDELEY + NMNIST_FILE_IDS["Train.zip"] + "/file_downloaded"),
        ("Test.zip", "69ca8762b2fe404d9b9bad1103e97832",
         MENDELEY + NMNIST_FILE_IDS["Test.zip"] + "/file_downloaded"),
    ]
    assert [r.alt_names for r in src.resources] == [("train.zip",), ("test.zip",)]


def test_cli_download_nmnist_from_public_urls(tmp_path: Path, nmnist_served: Server,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "nmnist", "--root", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "N-MNIST ready" in out and "6 train + 6 test samples" in out
    # fetched from the file-id paths, saved under the archive names
    assert [n for n, _, _ in nmnist_served.log] == [
        f"{NMNIST_FILE_IDS['Train.zip']}/file_downloaded",
        f"{NMNIST_FILE_IDS['Test.zip']}/file_downloaded",
    ]
    for name in ("Train.zip", "Test.zip"):
        assert (tmp_path / "archives" / name).read_bytes() == nmnist_served.files[name]
    assert (tmp_path / "Test" / "5" / "00008.bin").read_bytes() == bytes([1, 2, 0x80, 0, 5])
    assert main(["download", "nmnist", "--root", str(tmp_path), "-q"]) == 0  # nothing fetched
    assert len(nmnist_served.log) == 2


def test_full_download_verify_extract(tmp_path: Path, nmnist_served: Server) -> None:
    root = dl.download("nmnist", tmp_path, mirror=nmnist_served.url, quiet=True)
    samples = NMNIST().samples(root)
    assert sum(s.split == "train" for s in samples) == 6
    assert sum(s.split == "test" for s in samples) == 6
    assert (tmp_path / "Train" / "2" / "00002.bin").read_bytes() == bytes([1, 2, 0x80, 0, 5]) * 3
    assert (tmp_path / "archives" / "Train.zip").read_bytes() == nmnist_served.files["Train.zip"]
    assert [(n, r) for n, r, _ in nmnist_served.log] == [("Train.zip", None), ("Test.zip", None)]
    assert not list(tmp_path.glob(".*")) and not list((tmp_path / "archives").glob("*.part"))
    # a second run finds the .done markers and does not touch the network
    dl.download("nmnist", tmp_path, mirror=nmnist_served.url, quiet=True)
    assert len(nmnist_served.log) == 2


def test_mirror_from_environment(tmp_path: Path, nmnist_served: Server,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dl.MIRROR_ENV, nmnist_served.url + "/")
    dl.download("nmnist", tmp_path, quiet=True)
    assert len(NMNIST().samples(tmp_path)) == 12


def test_resume_requests_only_the_rest(tmp_path: Path, server: Server) -> None:
    data = bytes(range(256)) * 400
    server.files["blob.zip"] = data
    part = tmp_path / "blob.zip.part"
    part.write_bytes(data[:30_000])
    out = dl.fetch(f"{server.url}/blob.zip", tmp_path / "blob.zip", md5(data), quiet=True)
    assert out.read_bytes() == data and not part.exists()
    assert server.log == [("blob.zip", "bytes=30000-", len(data) - 30_000)]


def test_resume_of_complete_part_gets_416(tmp_path: Path, server: Server) -> None:
    data = b"x" * 1000
    server.files["blob.zip"] = data
    (tmp_path / "blob.zip.part").write_bytes(data)
    dl.fetch(f"{server.url}/blob.zip", tmp_path / "blob.zip", md5(data), quiet=True)
    assert (tmp_path / "blob.zip").read_bytes() == data
    assert server.log == [("blob.zip", "bytes=1000-", 0)]
    # a complete-looking but wrong part restarts from byte 0 once
    (tmp_path / "blob.zip").unlink()
    (tmp_path / "blob.zip.part").write_bytes(b"y" * 1000)
    dl.fetch(f"{server.url}/blob.zip", tmp_path / "blob.zip", md5(data), quiet=True)
    assert (tmp_path / "blob.zip").read_bytes() == data
    assert server.log[-1] == ("blob.zip", None, 1000)


def test_server_ignoring_range_restarts_cleanly(tmp_path: Path, rangeless_server: Server) -> None:
    data = bytes(range(256)) * 100
    rangeless_server.files["blob.zip"] = data
    (tmp_path / "blob.zip.part").write_bytes(b"GARBAGE" * 100)
    dl.fetch(f"{rangeless_server.url}/blob.zip", tmp_path / "blob.zip", md5(data), quiet=True)
    assert (tmp_path / "blob.zip").read_bytes() == data
    assert rangeless_server.log == [("blob.zip", "bytes=700-", len(data))]


def test_md5_mismatch_is_not_kept(tmp_path: Path, nmnist_served: Server) -> None:
    good = nmnist_served.files["Train.zip"]
    nmnist_served.files["Train.zip"] = good[:40] + bytes([good[40] ^ 0xFF]) + good[41:]
    with pytest.raises(ChecksumError) as info:
        dl.download("nmnist", tmp_path, mirror=nmnist_served.url, quiet=True)
    assert info.value.path.endswith("Train.zip")
    assert not (tmp_path / "archives" / "Train.zip").exists()
    assert not (tmp_path / "archives" / "Train.zip.part").exists()
    assert not (tmp_path / "Train").exists()


def test_http_error_raises(tmp_path: Path, server: Server) -> None:
    with pytest.raises(OSError, match="404"):
        dl.fetch(f"{server.url}/missing.zip", tmp_path / "missing.zip", quiet=True)
    assert not (tmp_path / "missing.zip").exists()


def test_failed_public_download_explains_manual_steps(tmp_path: Path, nmnist_served: Server,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    for r in sources.SOURCES[("nmnist", "original")].resources:
        del nmnist_served.files[r.url.removeprefix(nmnist_served.url + "/")]  # now 404
    with pytest.raises(dl.ManualDownloadRequired) as info:
        dl.download("nmnist", tmp_path, quiet=True)
    msg = str(info.value)
    assert "Train.zip: downloading" in msg and "404" in msg and "resumes" in msg
    assert "20959b8e626244a1b502305a9e6e2031" in msg and str(tmp_path / "archives") in msg
    assert main(["download", "nmnist", "--root", str(tmp_path), "-q"]) == 2
    assert "data.mendeley.com/datasets/468j46mzdv" in capsys.readouterr().err
    assert not (tmp_path / "Train").exists()


def test_placed_archives_are_used_offline(tmp_path: Path, nmnist_served: Server) -> None:
    # user places the archives (tonic's lower-case names too): verified and unpacked offline
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / "train.zip").write_bytes(nmnist_served.files["Train.zip"])
    (tmp_path / "Test.zip").write_bytes(nmnist_served.files["Test.zip"])
    dl.download("nmnist", tmp_path, quiet=True)
    assert len(NMNIST().samples(tmp_path)) == 12
    assert nmnist_served.log == []
    # a placed archive with the wrong md5 is refused (and left where the user put it)
    other = tmp_path / "other"
    other.mkdir()
    (other / "Train.zip").write_bytes(b"not a zip")
    with pytest.raises(ChecksumError):
        dl.download("nmnist", other, quiet=True)
    assert (other / "Train.zip").exists() and not (other / "Train").exists()
    assert nmnist_served.log == []


def test_dvsgesture_manual(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)
    with pytest.raises(dl.ManualDownloadRequired) as info:
        dl.download("dvsgesture", tmp_path, quiet=True)
    msg = str(info.value)
    assert "DvsGesture.tar.gz" in msg and "8a5c71fb11e24e5ca5b11866ca6c00a1" in msg
    assert "research.ibm.com" in msg
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / "DvsGesture.tar.gz").write_bytes(make_tar_gz({"x": b"1"}))
    with pytest.raises(ChecksumError):
        dl.download("dvsgesture", tmp_path, quiet=True)


def test_dvsgesture_tonic_source(tmp_path: Path, server: Server,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([[1.0, 2.0, 1.0, 3.5]]))
    train = make_tar_gz({"ibmGestureTrain/user01_led/4.npy": buf.getvalue()})
    test = make_tar_gz({"ibmGestureTest/user25_led/9.npy": buf.getvalue()})
    server.files.update({"ibmGestureTrain.tar.gz": train, "ibmGestureTest.tar.gz": test})
    src = sources.SOURCES[("dvsgesture", "tonic")]
    patched = tuple(sources.Resource(r.filename, md5(server.files[r.filename]), r.url,
                                     r.extract_to) for r in src.resources)
    monkeypatch.setitem(sources.SOURCES, ("dvsgesture", "tonic"),
                        sources.Source(src.dataset, src.name, patched, src.description))
    dl.download("dvs-gesture", tmp_path, source="tonic", mirror=server.url, quiet=True)
    samples = DVSGesture().samples(tmp_path)
    assert [(s.id, s.split, s.label) for s in samples] == [
        ("user01_led/4", "train", 4), ("user25_led/9", "test", 9)
    ]


def test_cifar_original_and_tonic_sources(tmp_path: Path, server: Server,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # original: one class zip with a top-level class folder, one with bare files
    server.files["airplane.zip"] = make_zip({"airplane/cifar10_airplane_0.aedat": b"a"})
    server.files["truck.zip"] = make_zip({"cifar10_truck_0.aedat": b"t",
                                          "cifar10_truck_1.aedat": b"t"})
    src = sources.SOURCES[("cifar10dvs", "original")]
    patched = tuple(sources.Resource(r.filename, md5(server.files[r.filename]), r.url,
                                     r.extract_to)
                    for r in src.resources if r.filename in server.files)
    monkeypatch.setitem(sources.SOURCES, ("cifar10dvs", "original"),
                        sources.Source(src.dataset, src.name, patched, src.description))
    dl.download("cifar10dvs", tmp_path / "orig", mirror=server.url, quiet=True)
    samples = CIFAR10DVS().samples(tmp_path / "orig")
    assert [(s.id, s.label) for s in samples] == [
        ("airplane/cifar10_airplane_0", 0), ("truck/cifar10_truck_0", 9),
        ("truck/cifar10_truck_1", 9),
    ]
    # tonic: one outer zip holding per-class zips
    inner = {cls: make_zip({f"{cls}/{cls}_{i}.aedat4": b"e" for i in range(2)})
             for cls in ("cat", "dog")}
    outer = make_zip({f"CIFAR10DVS/{cls}.zip": data for cls, data in inner.items()})
    server.files["CIFAR10DVS.zip"] = outer
    monkeypatch.setitem(sources.SOURCES, ("cifar10dvs", "tonic"), sources.Source(
        "cifar10dvs", "tonic",
        (sources.Resource("CIFAR10DVS.zip", md5(outer), None, "", nested=True),), "test"))
    with pytest.raises(dl.LayoutError, match="neither airplane.zip"):
        dl.download("cifar10dvs", tmp_path / "tonic", source="tonic", mirror=server.url,
                    quiet=True)
    monkeypatch.setattr(dl, "CIFAR_CLASSES", ("cat", "dog"))
    dl.download("cifar10dvs", tmp_path / "tonic", source="tonic", mirror=server.url, quiet=True)
    ds = CIFAR10DVS()
    assert ds.discover(tmp_path / "tonic").layout == "tonic"
    assert [s.id for s in ds.samples(tmp_path / "tonic")] == [
        "cat/cat_0", "cat/cat_1", "dog/dog_0", "dog/dog_1"]


# -- safe extraction --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/tmp/evil_abs.txt"])
def test_zip_traversal_refused(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "bad.zip"
    archive.write_bytes(make_zip({"ok.txt": b"1", name: b"evil"}))
    dest = tmp_path / "dest"
    with pytest.raises(FormatError, match="escapes|absolute"):
        extract_archive(archive, dest)
    assert not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in dest.iterdir()) == []  # nothing written, staging removed


def test_tar_traversal_and_links_refused(tmp_path: Path) -> None:
    for i, (members, links) in enumerate([({"../evil.txt": b"x"}, None),
                                          ({"ok.txt": b"1"}, {"link": "/etc/passwd"})]):
        archive = tmp_path / f"bad{i}.tar.gz"
        archive.write_bytes(make_tar_gz(members, links))
        with pytest.raises(FormatError, match="escapes|link"):
            extract_archive(archive, tmp_path / f"dest{i}")
        assert not (tmp_path / "evil.txt").exists()


def test_download_refuses_traversal_archive(tmp_path: Path, server: Server,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bad = make_zip({"Train/0/00001.bin": b"12345", "../../outside.bin": b"x"})
    server.files["Train.zip"] = bad
    monkeypatch.setitem(sources.SOURCES, ("nmnist", "original"), sources.Source(
        "nmnist", "original", (sources.Resource("Train.zip", md5(bad), None, "Train"),), "test"))
    with pytest.raises(FormatError, match="escapes"):
        dl.download("nmnist", tmp_path / "root", mirror=server.url, quiet=True)
    assert not (tmp_path / "outside.bin").exists() and not (tmp_path / "root" / "Train").exists()
