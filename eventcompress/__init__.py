"""eventcompress: event-camera recordings to spatio-temporally compressed SNN inputs, fast."""

from .errors import EventCompressError, FormatError
from .events import Events

__version__ = "0.1.0"

__all__ = ["Events", "EventCompressError", "FormatError", "__version__"]
