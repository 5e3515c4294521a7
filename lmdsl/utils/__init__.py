"""Small shared helpers with no lmdsl dependencies."""
