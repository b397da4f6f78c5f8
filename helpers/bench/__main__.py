"""``python -m helpers.bench``: run the benchmarks (see :mod:`helpers.bench`)."""

import sys

from helpers.bench import main
from helpers.core import cli

sys.exit(cli.guard(main, interrupted="No results were written: run the same command again."))
