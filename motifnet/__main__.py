"""``python -m motifnet`` is the ``motifnet`` command."""

from motifnet.cli import main

raise SystemExit(main())
