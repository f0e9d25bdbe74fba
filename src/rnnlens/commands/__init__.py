"""Subcommands of the ``rnnlens`` command line, one module each."""
