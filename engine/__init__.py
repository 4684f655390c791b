"""Sanad's generic engine: load, check, compile and evaluate declarative case-management modules."""

__version__ = "0.1.0"
