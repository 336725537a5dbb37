"""`eventcompress download DATASET --root DIR`: fetch, verify (md5) and unpack a dataset.

N-MNIST (Mendeley Data) and CIFAR10-DVS (figshare) are fetched from their public URLs. DVS128
Gesture's IBM archive has no direct URL: the command prints the manual steps and exits with
status 2 until the archive is placed in ``DIR/archives/`` (as it does when a public download
fails); rerunning then verifies and unpacks it.
"""

from __future__ import annotations

import argparse
import sys

EXAMPLE = ("examples:\n  eventcompress download nmnist --root data/\n"
           "  eventcompress download cifar10dvs --root data/ --source tonic\n"
           "  eventcompress download dvsgesture --root data/   (prints the manual steps)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", choices=["nmnist", "cifar10dvs", "dvsgesture"])
    parser.add_argument("--root", required=True, help="folder to download and unpack into")
    parser.add_argument("--mirror", default=None, metavar="URL",
                        help="base URL serving the archives by file name "
                             "(default: $EVENTCOMPRESS_MIRROR, else the public URLs)")
    parser.add_argument("--source", choices=["original", "tonic"], default="original",
                        help="original archives, or tonic's re-hosted conversions "
                             "(cifar10dvs: AEDAT4; dvsgesture: pre-cut .npy)")


def run(args: argparse.Namespace) -> int:
    import urllib.error

    from ..datasets import get_dataset
    from ..datasets.download import ManualDownloadRequired, download
    from ..errors import EventCompressError

    try:
        # quiet=None: progress bars only on a terminal (tqdm's disable=None), messages always.
        root = download(args.dataset, args.root, source=args.source, mirror=args.mirror,
                        quiet=True if args.quiet else None)
    except ManualDownloadRequired as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (EventCompressError, urllib.error.URLError, OSError) as exc:
        print(f"eventcompress download: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # no such source for this dataset
        print(f"eventcompress download: {exc}", file=sys.stderr)
        return 2
    dataset = get_dataset(args.dataset)
    try:
        match = dataset.discover(root)
        samples = dataset.samples(root)
    except EventCompressError as exc:
        print(f"eventcompress download: unpacked, but the folder does not read as "
              f"{dataset.title}: {exc}", file=sys.stderr)
        return 1
    n_train = sum(s.split == "train" for s in samples)
    print(f"{dataset.title} ready in {match.data_root} (layout '{match.layout}'): "
          f"{n_train:,} train + {len(samples) - n_train:,} test samples")
    return 0
