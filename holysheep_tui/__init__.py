"""holysheep-tui: a terminal chat client for the HolySheep AI relay and any OpenAI-compatible endpoint."""

__version__ = "0.1.0"
