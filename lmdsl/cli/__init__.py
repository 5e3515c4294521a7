"""The ``lmdsl`` command line."""
