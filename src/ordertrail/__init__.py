"""ordertrail: every order from creation to cash as one timeline."""

__version__ = "0.1.0"
