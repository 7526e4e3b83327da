"""``python -m spectool_app``: see :mod:`spectool_app.cli`."""

import sys

from spectool_app.cli import main

sys.exit(main())
