"""Modal screens of the full-screen app."""
