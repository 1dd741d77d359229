"""The package version (one place; setup.py and package.xml carry the same number)."""

__version__ = "0.1.0"
