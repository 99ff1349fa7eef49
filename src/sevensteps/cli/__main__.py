"""``python -m sevensteps.cli``: the same as the ``sevensteps`` command."""

import sys

from . import main

sys.exit(main())
