"""Evaluation protocols of ``shared/data/README.md`` as splitters.

Each returns or yields integer indices, so the same split can be applied to
sessions, labels and traced line indices alike. Test data never reaches
threshold selection: normal-only splitters put no anomaly in the training part.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import LeaveOneGroupOut, train_test_split
from sklearn.utils import check_random_state

from ._scorers import anomaly_mask


def deduplicate_sessions(X, y=None):
    """Indices of the first occurrence of every distinct (session, label) pair.

    Protocols that de-duplicate do it *before* splitting, so that no test
    sequence also sits in the training part.

    Examples
    --------
    >>> from sklog.metrics import deduplicate_sessions
    >>> deduplicate_sessions([["a"], ["b"], ["a"]], [0, 0, 0]).tolist()
    [0, 1]
    """
    seen = {}
    labels = [None] * len(X) if y is None else np.asarray(y).tolist()
    for i, (session, label) in enumerate(zip(X, labels, strict=True)):
        seen.setdefault((tuple(session), label), i)
    return np.array(sorted(seen.values()), dtype=np.int64)


def supervised_split(X, y, *, test_size=0.2, deduplicate=False, random_state=None):
    """Stratified random train/test indices, optionally de-duplicating first.

    Returns
    -------
    train_idx, test_idx : ndarray of int
    """
    idx = deduplicate_sessions(X, y) if deduplicate else np.arange(len(X))
    labels = np.asarray(y)[idx]
    train, test = train_test_split(
        idx, test_size=test_size, stratify=labels, random_state=random_state
    )
    return np.sort(train), np.sort(test)


def balanced_normal_split(y, random_state=None):
    """MLAD's protocol: every anomaly and as many random normal sessions test, the rest trains.

    The evaluation protocol of Zang et al. (MLAD, arXiv 2401.07655): the
    test part holds *all* anomalous sessions and an equal number of normal
    sessions drawn at random (1:1); every other normal session goes to the
    training part, which therefore holds no anomaly. Unlike
    :class:`NormalOnlySplit` no anomaly is held back from the test part.

    Parameters
    ----------
    y : array-like of shape (n_sessions,)
        Session labels (``0`` normal, ``1`` anomaly; see
        :func:`~sklog.metrics.anomaly_mask`).
    random_state : int, RandomState instance or None, default=None
        Draws the normal test sessions.

    Returns
    -------
    train_idx : ndarray of int
        Sorted indices of the normal training sessions.
    test_idx : ndarray of int
        Sorted indices of the test sessions: every anomaly, and as many normal
        sessions. Empty when ``y`` holds no anomaly.

    Raises
    ------
    ValueError
        When there are more anomalous than normal sessions (no 1:1 test part).

    Examples
    --------
    >>> from sklog.metrics import balanced_normal_split
    >>> train, test = balanced_normal_split([0, 0, 0, 0, 1, 0, 1, 0], random_state=0)
    >>> len(train), len(test), sorted({4, 6} - set(test.tolist()))
    (4, 4, [])
    """
    anomalous = anomaly_mask(y)
    rng = check_random_state(random_state)
    abnormal = np.flatnonzero(anomalous)
    normal = np.flatnonzero(~anomalous)
    if len(abnormal) > len(normal):
        raise ValueError(
            f"y holds {len(abnormal)} anomalous but only {len(normal)} normal sessions: a "
            "balanced 1:1 test part needs at least as many normal sessions as anomalies."
        )
    test_normal = rng.choice(normal, size=len(abnormal), replace=False)
    train = np.setdiff1d(normal, test_normal)
    test = np.sort(np.concatenate([abnormal, test_normal]))
    return train.astype(np.int64), test.astype(np.int64)


class NormalOnlySplit:
    """Train on normal sessions only; test on a natural-ratio or balanced set.

    The sessions (e.g. HDFS blocks) are first split at random, stratified by
    label, into a training part (``train_size``) and a test part. Anomalies in
    the training part are dropped, so detectors learn normal behaviour and set
    thresholds from normal training sessions only. With ``test="natural"`` the
    test part keeps the dataset's own anomaly ratio; with ``"balanced"`` it
    holds every test anomaly and as many normal sessions drawn at random.

    Parameters
    ----------
    train_size : float, default=0.8
    test : {"natural", "balanced"}, default="natural"
    n_splits : int, default=1
        Independent repetitions (different random splits).
    random_state : int, RandomState or None, default=None

    Examples
    --------
    >>> from sklog.metrics import NormalOnlySplit
    >>> y = [0] * 8 + [1] * 2
    >>> train, test = next(NormalOnlySplit(random_state=0).split(range(10), y))
    >>> sorted(set(int(v) for v in train) & {8, 9})
    []
    """

    def __init__(self, train_size=0.8, test="natural", n_splits=1, random_state=None):
        self.train_size = train_size
        self.test = test
        self.n_splits = n_splits
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def split(self, X, y, groups=None):
        if self.test not in ("natural", "balanced"):
            raise ValueError(f"test must be 'natural' or 'balanced', got {self.test!r}.")
        anomalous = anomaly_mask(y)
        rng = check_random_state(self.random_state)
        idx = np.arange(len(anomalous))
        for _ in range(self.n_splits):
            train, test = train_test_split(
                idx,
                train_size=self.train_size,
                stratify=anomalous if 0 < anomalous.sum() < len(anomalous) else None,
                random_state=rng.randint(np.iinfo(np.int32).max),
            )
            train = np.sort(train[~anomalous[train]])
            if self.test == "balanced":
                abnormal = test[anomalous[test]]
                normal = test[~anomalous[test]]
                k = min(len(abnormal), len(normal))
                normal = rng.choice(normal, size=k, replace=False)
                test = np.concatenate([abnormal, normal])
            yield train, np.sort(test)


class LeaveOneSystemOut(LeaveOneGroupOut):
    """Leave-one-system-out cross-validation: ``groups`` names each session's system.

    The same as :class:`sklearn.model_selection.LeaveOneGroupOut`, named for
    the cross-system protocols (train on some systems, test on an unseen one).

    Examples
    --------
    >>> from sklog.metrics import LeaveOneSystemOut
    >>> LeaveOneSystemOut().get_n_splits(groups=["HDFS", "BGL", "HDFS"])
    2
    """


class FewShotSplit:
    """One left-out system's parts: the other systems, ``k`` labelled target shots, a test part.

    The leave-one-system-out protocol with ``k``-shot target support (issue #10):

    1. ``source``: every row of every system but ``target``.
    2. The target's rows are split at random, stratified by label, into a
       *support pool* (``pool_size``) and a *test part* (the rest). The test
       part depends on ``random_state`` only, never on ``k``: every ``k`` of a
       seed is scored on the same rows, and no support row is ever drawn from it.
    3. ``support``: ``k`` anomalous **and** ``k`` normal rows of the pool (``2k``
       labelled target rows in all), the first ``k`` of a seeded order of each
       class, so the support of a smaller ``k`` is part of that of a larger one.
       ``k = 0`` is no target label at all.

    Parameters
    ----------
    target : hashable
        The left-out system (a value of ``groups``).
    k : int >= 0
        Labelled target rows *per class* in the support set.
    pool_size : float in (0, 1), default=0.5
        Share of the target's rows the support may be drawn from.
    random_state : int, RandomState instance or None, default=None

    Raises
    ------
    ValueError
        From :meth:`split`: ``target`` is no system of ``groups``; the target
        holds no anomaly (nothing to test) or no normal row; the pool holds
        fewer than ``k`` anomalous or ``k`` normal rows (``k`` larger than the
        target allows: the message gives the largest ``k`` possible).

    Examples
    --------
    >>> from sklog.metrics import FewShotSplit
    >>> y = [0, 1] * 10 + [0, 0, 0, 1] * 10
    >>> groups = ["a"] * 20 + ["b"] * 40
    >>> source, support, test = FewShotSplit("b", k=2, random_state=0).split(y, groups)
    >>> len(source), len(support), len(test)
    (20, 4, 20)
    >>> sorted(set(support.tolist()) & set(test.tolist()))
    []
    """

    def __init__(self, target, k, *, pool_size=0.5, random_state=None):
        self.target = target
        self.k = k
        self.pool_size = pool_size
        self.random_state = random_state

    def pool_and_test(self, y, groups):
        """``(pool, test)``: sorted indices of the target's support pool and test part."""
        anomalous = anomaly_mask(y)
        groups = np.asarray(groups)
        if len(groups) != len(anomalous):
            raise ValueError(f"groups has {len(groups)} entries for {len(anomalous)} rows.")
        if not 0 < self.pool_size < 1:
            raise ValueError(f"pool_size must be in (0, 1), got {self.pool_size!r}.")
        rows = np.flatnonzero(groups == self.target)
        if not len(rows):
            raise ValueError(f"target={self.target!r} is not a system of groups "
                             f"(systems: {sorted(set(groups.tolist()))}).")
        n_anomalous = int(anomalous[rows].sum())
        if n_anomalous < 2 or n_anomalous == len(rows):
            raise ValueError(
                f"target {self.target!r} holds {n_anomalous} anomalous and "
                f"{len(rows) - n_anomalous} normal rows: the protocol needs at least two "
                "anomalies (one to draw support from, one to test) and normal rows.")
        rng = check_random_state(self.random_state)
        pool, test = train_test_split(rows, train_size=self.pool_size,
                                      stratify=anomalous[rows],
                                      random_state=rng.randint(np.iinfo(np.int32).max))
        return np.sort(pool), np.sort(test)

    def split(self, y, groups):
        """``(source, support, test)``: sorted integer indices into ``y``.

        Parameters
        ----------
        y : array-like of shape (n_rows,)
            ``0`` normal, ``1`` anomaly (see :func:`~sklog.metrics.anomaly_mask`).
        groups : array-like of shape (n_rows,)
            The system of each row.
        """
        if not isinstance(self.k, (int, np.integer)) or isinstance(self.k, bool) or self.k < 0:
            raise ValueError(f"k must be an integer >= 0, got {self.k!r}.")
        anomalous = anomaly_mask(y)
        groups = np.asarray(groups)
        pool, test = self.pool_and_test(y, groups)
        source = np.flatnonzero(groups != self.target)
        # a second stream, so the support order does not depend on how the pool was drawn
        rng = np.random.default_rng(
            [check_random_state(self.random_state).randint(np.iinfo(np.int32).max), 1])
        support = []
        for cls in (True, False):
            rows = pool[anomalous[pool] == cls]
            if self.k > len(rows):
                largest = min(int(anomalous[pool].sum()), int((~anomalous[pool]).sum()))
                raise ValueError(
                    f"k={self.k} is larger than the target allows: its support pool holds "
                    f"{len(rows)} {'anomalous' if cls else 'normal'} rows (largest k: "
                    f"{largest}).")
            support.append(rng.permutation(rows)[:self.k])
        return source, np.sort(np.concatenate(support)).astype(np.int64), test
