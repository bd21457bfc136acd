"""qlearn's version, recorded in every run folder's config (``qlearn_version``)."""

__version__ = "0.1.0"
