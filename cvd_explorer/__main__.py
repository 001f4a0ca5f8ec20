import sys

from cvd_explorer.cli import main

sys.exit(main())
