"""``helpers.core.records`` is :mod:`helpers.core.manifest` under its former name, until every import uses the new one."""

import sys

from helpers.core import manifest as _module

sys.modules[__name__] = _module
