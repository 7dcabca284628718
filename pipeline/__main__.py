"""`python -m pipeline` is the same program as `windstil`."""

from __future__ import annotations

from pipeline.cli import main

if __name__ == "__main__":
    main()
