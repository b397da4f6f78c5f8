"""``python -m helpers.manifest --refresh-notes data/models``: rewrite the notes of finished manifests."""

import sys

from helpers.core.manifest import main

if __name__ == "__main__":
    from helpers.core import cli

    sys.exit(cli.guard(main, interrupted="Each manifest is written whole or not at all: run the same command again."))
