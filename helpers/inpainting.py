"""``helpers.inpainting`` is :mod:`helpers.inference.inpainting`, kept at this import path for the code and readers that use it."""

import sys

from helpers.inference import inpainting as _module

sys.modules[__name__] = _module
