"""``helpers.models`` is :mod:`helpers.core.zoo`, kept at this import path for the code and readers that use it."""

import sys

from helpers.core import zoo as _module

sys.modules[__name__] = _module
