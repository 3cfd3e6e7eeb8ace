"""scn: marketing automation where scenarios are code."""

__version__ = "0.1.0"
