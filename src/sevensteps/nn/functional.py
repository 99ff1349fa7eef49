"""``sevensteps.nn.functional``: the import path PyTorch users type (``import sevensteps.nn.functional as F``).

The functions live in ``sevensteps.functional``; these are the same objects.
"""

from ..functional import *  # noqa: F403
from ..functional import __all__  # noqa: F401
