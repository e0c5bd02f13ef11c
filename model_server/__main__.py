"""`python -m smlocal.model_server`: the model server on its own (`smlocal-serve`)."""

from __future__ import annotations

import sys

from smlocal.model_server.cli import main

if __name__ == "__main__":
    sys.exit(main())
