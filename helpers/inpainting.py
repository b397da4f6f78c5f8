"""``helpers.inpainting`` is :mod:`helpers.inference.exact_fill`, kept at this import path for the code and readers that use it."""

import sys

from helpers.inference import exact_fill as _module

sys.modules[__name__] = _module
