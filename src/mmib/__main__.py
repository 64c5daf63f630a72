"""``python -m mmib`` (and ``torchrun ... -m mmib``): the ``mmib`` command."""

import sys

from .cli import main

sys.exit(main())
