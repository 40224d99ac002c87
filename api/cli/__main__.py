"""``python -m api.cli``: the ``anvil`` command without the installed script."""

import sys

from api.cli import main

sys.exit(main())
