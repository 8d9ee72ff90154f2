"""Widgets of the full-screen app."""
