"""Inspecting fitted models: which lines drove a score, scoring a batch in one pass or a log
in chunks."""

from ._explain import SessionScores, explain, score_sessions
from ._stream import score_stream

__all__ = ["SessionScores", "explain", "score_sessions", "score_stream"]
