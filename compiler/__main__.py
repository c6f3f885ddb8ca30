"""``python -m geoc``: the same command line as the ``geoc`` script."""

from geoc.cli import main

raise SystemExit(main())
