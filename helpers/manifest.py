"""``python -m helpers.manifest --refresh-notes data/models``: rewrite the notes of finished manifests."""

import sys

from helpers.core.records import main

if __name__ == "__main__":
    sys.exit(main())
