"""``python -m rnnlens`` runs the command line."""

import sys

from rnnlens.cli import main

sys.exit(main())
