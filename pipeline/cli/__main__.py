"""`python -m pipeline.cli ...`: the same as `mtl ...`."""

import sys

from pipeline.cli.main import main

sys.exit(main())
