"""``helpers.gates`` is :mod:`helpers.analysis.gates`, kept at this import path for the code and readers that use it."""

import sys

from helpers.analysis import gates as _module

sys.modules[__name__] = _module
