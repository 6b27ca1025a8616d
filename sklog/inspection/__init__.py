"""Inspecting fitted models: which lines drove a score, scoring a batch in one pass or a log
in chunks."""

from ._explain import SessionScores, explain, score_sessions
from ._stream import FrameBatch, reads_frames, score_archive, score_stream

__all__ = ["FrameBatch", "SessionScores", "explain", "reads_frames", "score_archive",
           "score_sessions", "score_stream"]
