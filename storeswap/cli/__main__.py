"""``python -m storeswap.cli``: the console script without installing it."""

import sys

from storeswap.cli import main

sys.exit(main())
