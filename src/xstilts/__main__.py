"""``python -m xstilts`` = the ``xstilts`` command (workers start themselves this way)."""

from xstilts.cli import main

main()
