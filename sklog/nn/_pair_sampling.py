"""Which pairs a Siamese network trains on: the paper's K+1 rule, or every pair (capped).

Pairs are index pairs into the training sessions; they are drawn anew every
epoch, so the K+1 rule sees ``(K + 1) * n`` pairs per epoch instead of the
``n (n - 1) / 2`` of every pair.
"""

from __future__ import annotations

import numpy as np


def kpone_pairs(y, n_negatives, rng):
    """The K+1 pairs: for every session one same-class and ``K`` different-class partners.

    Returns an ``(n * (K + 1), 2)`` array of session indices; the same-class
    partner is never the session itself when its class has another member.

    Examples
    --------
    >>> import numpy as np
    >>> from sklog.nn import kpone_pairs
    >>> kpone_pairs(np.array([0, 0, 1, 1]), 3, np.random.RandomState(0)).shape
    (16, 2)
    """
    y = np.asarray(y)
    idx = np.arange(len(y))
    first, second = [], []
    for c in np.unique(y):
        members, others = idx[y == c], idx[y != c]
        m = len(members)
        if m > 1:
            same = members[(np.arange(m) + 1 + rng.randint(m - 1, size=m)) % m]
        else:
            same = members.copy()
        pool = others if len(others) else members  # one class only: all partners same-class
        diff = pool[rng.randint(len(pool), size=(m, n_negatives))]
        first.append(np.repeat(members, n_negatives + 1))
        second.append(np.column_stack([same, diff]).ravel())
    return np.column_stack([np.concatenate(first), np.concatenate(second)])


def all_pairs(n, max_pairs, rng):
    """Every unordered pair of ``n`` sessions, or ``max_pairs`` drawn at random when more."""
    total = n * (n - 1) // 2
    if total == 0:
        return np.column_stack([np.arange(n), np.arange(n)])
    if total <= max_pairs:
        i, j = np.triu_indices(n, 1)
        return np.column_stack([i, j])
    i = rng.randint(n, size=max_pairs)
    j = (i + 1 + rng.randint(n - 1, size=max_pairs)) % n
    return np.column_stack([i, j])
