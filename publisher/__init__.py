"""publisher: newly published articles in, syndication feeds and email digests out."""

__version__ = "0.1.0"
