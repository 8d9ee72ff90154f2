"""Conversations in and out of files: export formats and JSON import."""
