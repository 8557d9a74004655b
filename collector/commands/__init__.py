"""Subcommands of the choreoscope console script, one module each."""
