"""The model package: one module per pipeline stage (data, train, evaluate) and the CLI."""

__version__ = "0.1.0"
