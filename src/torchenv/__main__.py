from __future__ import annotations

import sys

from torchenv.cli import main

sys.exit(main())
