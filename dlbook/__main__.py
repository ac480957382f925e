"""``python -m dlbook``: the same command as ``dlbook`` (see :mod:`dlbook.cli`)."""

import sys

from dlbook.cli import main

sys.exit(main())
