"""LogRobust's synthetic log evolution: perturb a share of sessions to test robustness.

Zhang et al. (LogRobust, FSE 2019) simulate evolving logging statements and
noisy log collection by changing a chosen share of the test sessions: a log
event is duplicated, an event is removed, or a few consecutive events are
shuffled. The labels are kept, so a robust model should classify the evolved
sessions like the originals.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

from ..utils import check_sessions

OPERATIONS = ("duplicate", "remove", "shuffle")


def _evolve_one(session, op, rng, shuffle_span):
    session = list(session)
    n = len(session)
    if n == 0:
        return session, False
    if op == "shuffle" and n >= 2:
        span = min(shuffle_span, n)
        start = rng.randint(n - span + 1)
        part = session[start : start + span]
        for _ in range(10):  # draw until the order really changes (if it can)
            perm = rng.permutation(span)
            if [part[i] for i in perm] != part or len(set(part)) == 1:
                break
        session[start : start + span] = [part[i] for i in perm]
        return session, True
    if op == "remove" and n >= 2:
        del session[rng.randint(n)]
        return session, True
    # duplicate (also the fallback for sessions too short to remove from or shuffle)
    i = rng.randint(n)
    session.insert(i + 1, session[i])
    return session, True


def evolve_sessions(X, ratio=0.1, *, operations=OPERATIONS, shuffle_span=3, random_state=None):
    """Apply LogRobust's synthetic evolution to ``ratio`` of the sessions.

    Each chosen session gets one operation drawn uniformly from
    ``operations``: ``"duplicate"`` repeats one random event right after
    itself, ``"remove"`` deletes one random event (sessions of one event are
    duplicated instead), ``"shuffle"`` permutes ``shuffle_span`` consecutive
    events. Empty sessions stay unchanged.

    Parameters
    ----------
    X : sequence of sessions
    ratio : float in [0, 1], default=0.1
        Share of sessions to change (rounded to a whole number of sessions).
    operations : tuple of {"duplicate", "remove", "shuffle"}
    shuffle_span : int, default=3
    random_state : int, RandomState instance or None, default=None

    With the same ``random_state``, the sessions evolved at a smaller ratio are
    evolved identically at every larger one (nested evolution).

    Returns
    -------
    sessions : list of list of str
        New sessions (the input is not modified).
    changed : ndarray of bool
        Which sessions were chosen for evolution.

    Examples
    --------
    >>> from sklog.datasets import evolve_sessions
    >>> X = [["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c"]]
    >>> evolved, changed = evolve_sessions(X, ratio=0.5, random_state=0)
    >>> int(changed.sum()), X[0]
    (2, ['a', 'b', 'c'])
    """
    if not isinstance(ratio, numbers.Real) or not 0 <= ratio <= 1:
        raise ValueError(f"ratio must be a float in [0, 1], got {ratio!r}.")
    operations = tuple(operations)
    unknown = set(operations) - set(OPERATIONS)
    if not operations or unknown:
        raise ValueError(
            f"operations must be a non-empty subset of {OPERATIONS}, got {operations!r}."
        )
    if not isinstance(shuffle_span, numbers.Integral) or shuffle_span < 2:
        raise ValueError(f"shuffle_span must be an int >= 2, got {shuffle_span!r}.")
    sessions = check_sessions(X, estimator="evolve_sessions")
    rng = check_random_state(random_state)
    n = len(sessions)
    # Every random choice is drawn per session before the selection, so with one
    # seed a larger ratio evolves a superset of the sessions, each the same way:
    # results across ratios differ only by the extra evolved sessions.
    order = rng.permutation(n)
    ops = rng.randint(len(operations), size=n)
    seeds = rng.randint(np.iinfo(np.int32).max, size=n)
    changed = np.zeros(n, dtype=bool)
    for i in order[: int(round(ratio * n))]:
        sessions[i], changed[i] = _evolve_one(
            sessions[i], operations[ops[i]], np.random.RandomState(seeds[i]), shuffle_span
        )
    return sessions, changed
