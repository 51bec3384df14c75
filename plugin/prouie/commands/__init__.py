"""Subcommands of the ``prouie`` CLI, one module each (``register(subparsers)``)."""
