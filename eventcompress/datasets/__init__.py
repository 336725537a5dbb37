"""Dataset layouts (N-MNIST, CIFAR10-DVS, DVS128 Gesture), splits and downloads.

>>> from eventcompress.datasets import get_dataset, load_sample
>>> ds = get_dataset("nmnist")
>>> train = ds.samples("data/NMNIST", split="train")   # no decoding, just the folder walk
>>> events = load_sample(train[0])

See docs/datasets.md for layouts, label conventions and split rules.
"""

from .base import SPLITS, DatasetLayout, LayoutMatch, Sample, load_sample
from .cifar10dvs import CIFAR10DVS
from .dvsgesture import DVSGesture, GestureSegment, gesture_segments
from .nmnist import NMNIST
from .registry import DATASETS, detect_dataset, get_dataset
from .splits import stratified_split

__all__ = [
    "CIFAR10DVS", "DATASETS", "DVSGesture", "DatasetLayout", "GestureSegment", "LayoutMatch",
    "NMNIST", "SPLITS", "Sample", "detect_dataset", "gesture_segments", "get_dataset",
    "load_sample", "stratified_split",
]
