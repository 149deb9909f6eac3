"""skafa's version, in a module of its own so that anything can import it without importing the package."""

__version__ = "0.2.0"
