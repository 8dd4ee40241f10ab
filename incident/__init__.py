"""breachnotice: tells people when a security incident exposed their personal data."""

__version__ = "0.1.0"
