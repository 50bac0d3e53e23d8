import sys

from bngan.cli import main

sys.exit(main())
