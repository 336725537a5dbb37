"""Subcommands of the ``eventcompress`` CLI, one module each."""
