"""Inspecting fitted models: which lines drove a score, and scoring a batch in one pass."""

from ._explain import SessionScores, explain, score_sessions

__all__ = ["SessionScores", "explain", "score_sessions"]
