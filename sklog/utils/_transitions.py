"""Which transitions between runs of templates normal sessions make.

A *run* is a template repeated on consecutive lines; a *transition* is one run
followed by the next, plus the session's first run (from its start) and its
last (to its end). A window of BGL alerts is often twenty lines of one kernel
template that normal windows also hold, but never at a window's start or right
after the templates before it: the transitions tell them apart where the
template counts do not (``python -m sklog.benchmarks.ceilings``).
"""

from __future__ import annotations

import numpy as np

#: the session's start and end in a transition (never equal to a template string)
_EDGE = None


def _entering(session):
    """``(line, transition)`` for every line that starts a run, and the end transition
    (charged to the last line)."""
    previous = _EDGE
    for line, template in enumerate(session):
        if template != previous:
            yield line, (previous, template)
            previous = template
    if len(session):
        yield len(session) - 1, (previous, _EDGE)


class TransitionMemory:
    """The set of run transitions of the sessions seen in ``fit``.

    Examples
    --------
    >>> from sklog.utils import TransitionMemory
    >>> memory = TransitionMemory().fit([["a", "a", "b"], ["a", "b", "b"]])
    >>> memory.count_unseen([["a", "b"], ["b", "a"], ["a", "a", "a"]]).tolist()
    [0, 3, 1]
    >>> memory.unseen_lines(["a", "a", "a"]).tolist()
    [0.0, 0.0, 1.0]
    """

    def fit(self, sessions):
        self.transitions_ = {t for session in sessions for _, t in _entering(session)}
        return self

    def count_unseen(self, sessions):
        """Number of transitions of each session never seen in ``fit`` (each occurrence)."""
        seen = self.transitions_
        return np.fromiter((sum(t not in seen for _, t in _entering(s)) for s in sessions),
                           dtype=np.int64, count=len(sessions))

    def unseen_lines(self, session):
        """Per line of ``session``: the unseen transitions it enters (or ends the session on)."""
        out = np.zeros(len(session))
        for line, transition in _entering(session):
            out[line] += transition not in self.transitions_
        return out
