"""``python -m eventcompress``: the ``eventcompress`` command."""

import sys

from .cli import main

sys.exit(main())
