"""Numba kernels over event arrays and the frozen configurations built on them.

* :mod:`.geometry`: downsample, resize, crops, flips, time crop (``Events -> Events``).
* :mod:`.filters`: denoise, refractory period, hot-pixel removal (``Events -> Events``).
* :mod:`.transforms`: frozen configuration classes for those steps.
* :mod:`.augment`: random event-level augmentations (drops, jitter, noise, time skew).
* :mod:`.pipeline`: :class:`Pipeline`, a hashable chain of steps plus a representation.
* :mod:`.packed`: :class:`PackedEvents`, many streams in flat arrays for batch kernels
  (:class:`PackBuffers` to pack chunk after chunk into reused memory).
* :mod:`.batch`: :func:`process_many`, one pipeline over many recordings in parallel.
* :mod:`.frames`, :mod:`.stc`, :mod:`.representations`: dense representations (frames, STC)
  and their configurations :class:`FrameConfig`, :class:`STCConfig`. The function
  ``frames.frames`` is deliberately not re-exported here: the name would shadow the submodule.
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
from .frames import frame_count, frames_spikingjelly
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
from .packed import PackBuffers, PackedEvents, uniforms
from .pipeline import Pipeline, config_class, config_from_dict
from .representations import FrameConfig, STCConfig
from .stc import compress_events
from .transforms import (
    TRANSFORMS,
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
    register_config,
)

__all__ = [
    "DropArea",
    "DropEvents",
    "DropTimeWindow",
    "SpatialJitter",
    "TimeJitter",
    "TimeSkew",
    "UniformNoise",
    "TRANSFORMS",
    "CenterCrop",
    "CropTime",
    "Denoise",
    "Downsample",
    "EventTransform",
    "FlipLR",
    "FlipPolarity",
    "FlipUD",
    "FrameConfig",
    "PackBuffers",
    "PackedEvents",
    "Pipeline",
    "RandomCrop",
    "RefractoryPeriod",
    "RemoveHotPixels",
    "Resize",
    "STCConfig",
    "ShiftTimeToZero",
    "center_crop",
    "compress_events",
    "config_class",
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
    "uniforms",
]
