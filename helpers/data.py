"""``helpers.data`` is :mod:`helpers.core.data`, kept at this import path for the code and readers that use it."""

import sys

from helpers.core import data as _module

sys.modules[__name__] = _module
