"""Where each dataset's archives come from: file names, md5s, public URLs, and manual steps.

md5s are those documented in FORMATS.md (sections 1.1, 2.1, 3.1, 3.5); URLs are the public ones
(N-MNIST: the Mendeley Data record's file links, the ones tonic downloads from). The saved file
name is ``Resource.filename`` whatever the URL's last path segment is. A resource with
``url=None`` has no direct public URL we can rely on: it is fetched only from a mirror
(``--mirror`` / ``EVENTCOMPRESS_MIRROR``) or placed by the user.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cifar10dvs import CLASSES as CIFAR_CLASSES
from .gesture_checksums import ARCHIVE_MD5, TONIC_ARCHIVE_MD5


@dataclass(frozen=True)
class Resource:
    """One archive. It is unpacked into ``ROOT/<extract_to>``; when the archive holds a single
    top-level folder named ``extract_to`` that folder's content is used (either packing works).
    ``nested``: the archive holds per-class zips that are unpacked in turn (tonic's CIFAR10DVS).
    ``alt_names``: other file names a user may have saved it under."""

    filename: str
    md5: str
    url: str | None
    extract_to: str
    nested: bool = False
    alt_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    dataset: str
    name: str
    resources: tuple[Resource, ...]
    description: str
    # instructions when a resource has no URL and no mirror is given, or its download fails
    manual: str | None = None


#: Mendeley Data record 468j46mzdv (DOI 10.17632/468j46mzdv.1, CC BY-SA 4.0): public file links.
NMNIST_BASE_URL = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"

_NMNIST_MANUAL = """\
If the download from Mendeley Data keeps failing, place the archives by hand:
  1. Open the Mendeley Data record https://data.mendeley.com/datasets/468j46mzdv/1
     (DOI 10.17632/468j46mzdv.1, licence CC BY-SA 4.0) and download Train.zip and Test.zip
     (1.1 GB together).
  2. Put both files into {archives}/ (train.zip/test.zip, tonic's names, are accepted too).
  3. Run `eventcompress download nmnist --root {root}` again: it checks
     Train.zip md5 20959b8e626244a1b502305a9e6e2031 and Test.zip md5
     69ca8762b2fe404d9b9bad1103e97832 and unpacks them into {root}/Train and {root}/Test.
  (Or pass --mirror URL, a server holding Train.zip and Test.zip.)"""

_GESTURE_MANUAL = """\
DVS128 Gesture (IBM, licence CC BY 4.0) is downloaded by hand:
  1. Go to https://research.ibm.com/interactive/dvsgesture/ and follow the download link to the
     IBM Box folder (https://ibm.ent.box.com/s/3hiq58ww1pbbjrinh367ykfdf60xsfm8/folder/50167556794);
     download DvsGesture.tar.gz (about 3 GB).
  2. Put it into {archives}/DvsGesture.tar.gz
  3. Run `eventcompress download dvsgesture --root {root}` again: it checks the md5
     8a5c71fb11e24e5ca5b11866ca6c00a1, unpacks it into {root}/DvsGesture/ and checks the md5 of
     all 122 trial .aedat files.
  If you already unpacked it yourself into {root}/DvsGesture/, step 3 checks the trial files.
  Alternative: `--source tonic` downloads tonic's pre-cut .npy version (ms timestamps)."""

SOURCES: dict[tuple[str, str], Source] = {
    ("nmnist", "original"): Source(
        "nmnist", "original",
        (
            Resource("Train.zip", "20959b8e626244a1b502305a9e6e2031",
                     NMNIST_BASE_URL + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
                     "Train", alt_names=("train.zip",)),
            Resource("Test.zip", "69ca8762b2fe404d9b9bad1103e97832",
                     NMNIST_BASE_URL + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
                     "Test", alt_names=("test.zip",)),
        ),
        "Mendeley Data 468j46mzdv Train.zip / Test.zip (original .bin files)",
        _NMNIST_MANUAL,
    ),
    ("cifar10dvs", "original"): Source(
        "cifar10dvs", "original",
        tuple(
            Resource(f"{cls}.zip", md5, f"https://ndownloader.figshare.com/files/{fid}", cls)
            for cls, fid, md5 in zip(
                CIFAR_CLASSES,
                (7712788, 7712791, 7712794, 7712812, 7712815, 7712818, 7712842, 7712851,
                 7712836, 7712839),
                ("0afd5c4bf9ae06af762a77b180354fdd", "8438dfeba3bc970c94962d995b1b9bdd",
                 "a9c207c91c55b9dc2002dc21c684d785", "52c63c677c2b15fa5146a8daf4d56687",
                 "b6bf21f6c04d21ba4e23fc3e36c8a4a3", "f379ebdf6703d16e0a690782e62639c3",
                 "cad6ed91214b1c7388a5f6ee56d08803", "e7cbbf77bec584ffbf913f00e682782a",
                 "41c7bd7d6b251be82557c6cce9a7d5c9", "89f3922fd147d9aeff89e76a2b0b70a7"),
            )
        ),
        "figshare 4724671 per-class zips (original AEDAT 2.0 files)",
    ),
    ("cifar10dvs", "tonic"): Source(
        "cifar10dvs", "tonic",
        (Resource("CIFAR10DVS.zip", "ce3a4a0682dc0943703bd8f749a7701c",
                  "https://figshare.com/ndownloader/files/38023437", "", nested=True),),
        "tonic's re-hosted AEDAT 4.0 conversion (figshare 38023437)",
    ),
    ("dvsgesture", "original"): Source(
        "dvsgesture", "original",
        (Resource("DvsGesture.tar.gz", ARCHIVE_MD5, None, "DvsGesture"),),
        "IBM DvsGesture.tar.gz (AEDAT 3.1 trials + label CSVs)",
        _GESTURE_MANUAL,
    ),
    ("dvsgesture", "tonic"): Source(
        "dvsgesture", "tonic",
        (
            Resource("ibmGestureTrain.tar.gz", TONIC_ARCHIVE_MD5["ibmGestureTrain.tar.gz"],
                     "https://figshare.com/ndownloader/files/38022171", "ibmGestureTrain"),
            Resource("ibmGestureTest.tar.gz", TONIC_ARCHIVE_MD5["ibmGestureTest.tar.gz"],
                     "https://figshare.com/ndownloader/files/38020584", "ibmGestureTest"),
        ),
        "tonic's pre-cut .npy version (figshare 38022171 / 38020584)",
    ),
}


def get_source(dataset: str, source: str = "original") -> Source:
    key = (dataset.lower().replace("-", "").replace("_", ""), source)
    if key not in SOURCES:
        known = ", ".join(f"{d}/{s}" for d, s in SOURCES)
        raise ValueError(f"no download source {source!r} for {dataset!r}; known: {known}")
    return SOURCES[key]
