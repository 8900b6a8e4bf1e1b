"""Allow `python -m tracklight`."""

from tracklight.cli import main

raise SystemExit(main())
