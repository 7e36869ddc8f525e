"""``python -m ftevals.cli`` (and ``accelerate launch -m ftevals.cli``)."""

import sys

from ftevals.cli import main

sys.exit(main())
