"""The package's version: its own module, so that the SDK, the CLI and the API read it without
importing the package facade (which loads the SDK)."""

__version__ = "0.1.0"
