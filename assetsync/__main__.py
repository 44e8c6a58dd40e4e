"""``python -m assetsync`` runs the CLI."""

from .cli.main import entry

entry()
