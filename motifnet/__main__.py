"""``python -m motifnet`` is the ``motifnet`` command."""

from motifnet.cli import entry

entry()
