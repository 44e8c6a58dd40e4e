"""The package version, in a module of its own so the HTTP client can name itself without
importing the package's public API."""

__version__ = "0.1.0"
