"""``python -m assetsync`` runs the CLI."""

from .cli import main

main()
