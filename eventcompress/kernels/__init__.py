"""Numba kernels over event arrays and the frozen configurations built on them.

* :mod:`.geometry`: downsample, resize, crops, flips, time crop (``Events -> Events``).
* :mod:`.filters`: denoise, refractory period, hot-pixel removal (``Events -> Events``).
* :mod:`.transforms`: frozen configuration classes for those steps (:class:`EventTransform`).
* :mod:`.augment`: random event-level augmentations (drops, jitter, noise, time skew).
* :mod:`.frames` (kernel :mod:`._frames_kernel`), :mod:`.stc` (kernel :mod:`._stc_kernel`):
  the dense representations and their configurations :class:`FrameConfig`, :class:`STCConfig`,
  both :class:`Representation` subclasses (:mod:`.representations`). The function
  ``frames.frames`` is deliberately not re-exported here: the name would shadow the submodule.
* :mod:`.pipeline`: :class:`Pipeline`, a hashable chain of steps plus a representation.
* :mod:`.registry`: :func:`register_config`, the one registry of configuration classes by name,
  which :func:`config_from_dict` reads.
* :mod:`.packed`: :class:`PackedEvents`, many streams in flat arrays for batch kernels.
* :mod:`.batch`: :func:`process_many`, one pipeline over many recordings in parallel.

docs/architecture.md maps how a setting flows from a configuration to a kernel.
"""

from .augment import (
    DropArea,
    DropEvents,
    DropTimeWindow,
    SpatialJitter,
    TimeJitter,
    TimeSkew,
    UniformNoise,
)
from .batch import process_many
from .filters import denoise, hot_pixels, refractory_period, remove_hot_pixels
from .frames import FrameConfig, frame_count, frames_spikingjelly
from .geometry import (
    center_crop,
    crop,
    crop_time,
    downsample,
    flip_lr,
    flip_polarity,
    flip_ud,
    random_crop,
    resize,
    shift_time_to_zero,
)
from .packed import PackedEvents
from .pipeline import Pipeline
from .registry import config_from_dict, register_config
from .representations import Representation
from .stc import STCConfig, compress_events
from .transforms import (
    CenterCrop,
    CropTime,
    Denoise,
    Downsample,
    EventTransform,
    FlipLR,
    FlipPolarity,
    FlipUD,
    RandomCrop,
    RefractoryPeriod,
    RemoveHotPixels,
    Resize,
    ShiftTimeToZero,
)

__all__ = [
    "DropArea",
    "DropEvents",
    "DropTimeWindow",
    "SpatialJitter",
    "TimeJitter",
    "TimeSkew",
    "UniformNoise",
    "CenterCrop",
    "CropTime",
    "Denoise",
    "Downsample",
    "EventTransform",
    "FlipLR",
    "FlipPolarity",
    "FlipUD",
    "FrameConfig",
    "PackedEvents",
    "Pipeline",
    "RandomCrop",
    "RefractoryPeriod",
    "RemoveHotPixels",
    "Representation",
    "Resize",
    "STCConfig",
    "ShiftTimeToZero",
    "center_crop",
    "compress_events",
    "config_from_dict",
    "crop",
    "crop_time",
    "denoise",
    "downsample",
    "flip_lr",
    "flip_polarity",
    "flip_ud",
    "frame_count",
    "frames_spikingjelly",
    "hot_pixels",
    "process_many",
    "random_crop",
    "refractory_period",
    "register_config",
    "remove_hot_pixels",
    "resize",
    "shift_time_to_zero",
]
