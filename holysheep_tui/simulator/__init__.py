"""The local relay simulator: an OpenAI-compatible server on loopback for ``--demo``, tests and benchmarks."""

from holysheep_tui.simulator.content import MODELS, ModelSpec, count_tokens, mixed_markdown, split_tokens
from holysheep_tui.simulator.scenarios import DEMO_PACING, FULL_SPEED, Pacing
from holysheep_tui.simulator.server import RecordedRequest, RelaySimulator

__all__ = [
    "DEMO_PACING",
    "FULL_SPEED",
    "MODELS",
    "ModelSpec",
    "Pacing",
    "RecordedRequest",
    "RelaySimulator",
    "count_tokens",
    "mixed_markdown",
    "split_tokens",
]
