"""``python -m assetsync`` runs the CLI."""

from .cli import entry

entry()
