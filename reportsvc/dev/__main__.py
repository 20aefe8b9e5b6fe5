"""`python -m reportsvc.dev` (what `make run` runs): the development supervisor."""

import sys

from reportsvc.dev.run import main

sys.exit(main(sys.argv[1:]))
