"""Tools that act on a deployed stack."""
