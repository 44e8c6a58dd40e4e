"""The ``assetsync`` command: click commands that parse options, call the library and render
what it reports."""

from .main import entry, main

__all__ = ["entry", "main"]
