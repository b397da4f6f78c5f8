"""``helpers.analysis.setup`` is :mod:`helpers.analysis.notebook_models` under its former name, until the notebooks
import the new one."""

import sys

from helpers.analysis import notebook_models as _module

sys.modules[__name__] = _module
