"""Invariants mining of Lou et al. (USENIX ATC 2010), with loglizer's search."""

from __future__ import annotations

import warnings
from collections import defaultdict
from itertools import combinations
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from ._common import _CountDetector

#: Violation magnitude above which a session breaks an invariant (loglizer's 1e-6).
_TOLERANCE = 1e-6


def _prefix_join(items, limit):
    """Apriori join: sorted tuples, one longer, from two items sharing all but the last.

    Only the first ``limit`` tuples in sorted order are built.
    """
    groups = defaultdict(list)
    for item in items:
        groups[item[:-1]].append(item[-1])
    out = []
    for prefix in sorted(groups):
        lasts = sorted(groups[prefix])
        for i, a in enumerate(lasts):
            for b in lasts[i + 1 :]:
                if len(out) == limit:
                    return out
                out.append((*prefix, a, b))
    return out


class InvariantsMiner(_CountDetector):
    """Sparse integer invariants among template counts (Lou et al., USENIX ATC 2010).

    In normal sessions, counts of related templates obey linear laws with
    small integer coefficients, e.g. ``count(open) - count(close) == 0``. The
    invariant space's dimension is estimated by SVD; invariants are then
    searched over growing sets of templates (Apriori style, as loglizer does)
    until that many are found, or ``max_candidates`` sets have been tried. A
    session is anomalous when it breaks one.

    Parameters
    ----------
    percentage : float in (0, 1], default=0.98
        Share of training sessions an invariant must hold on.
    epsilon : float > 0, default=0.5
        A singular direction belongs to the invariant space when
        ``|x . v| < epsilon`` on ``percentage`` of the training sessions.
    max_invariant_length : int >= 1 or None, default=None
        Longest invariant (number of templates) searched; ``None``: no limit.
    max_candidates : int >= 1 or None, default=50_000
        Most candidate template sets the search builds and checks, over all
        lengths, shortest first and in column order within a length. The sets
        of one length number up to ``C(n_templates, length)``, so where few
        invariants hold the uncapped search takes minutes or more (the
        OpenSSH 2k sample in windows of 40 lines, 24 templates: about 5
        minutes, 0.6 s with the default cap); a candidate costs tens of
        microseconds, so the default keeps the search to seconds.
        When the cap stops the search before ``invariant_space_dim_``
        invariants are found, a ``ConvergenceWarning`` says so. ``None``: no
        cap (loglizer's search). The benchmark rows need far fewer (HDFS:
        1,441 candidates; BGL: 7,750) and are unchanged by the cap.
    scales : tuple of int, default=(1, 2, 3)
        Integer scales tried to turn an eigenvector into integer coefficients.
    single_events : {"unseen", "percentage"}, default="unseen"
        When a one-template invariant ``count == 0`` is kept. ``"unseen"``:
        only for templates absent from every training session (loglizer's
        implementation, the parity default). ``"percentage"``: when it holds
        on ``percentage`` of the training sessions, the rule of every other
        invariant, so a template seen in a handful of normal sessions still
        raises an alert. The default stays loglizer's because the
        alternative was found by looking at test results; the benchmark
        reports both.
    contamination : "auto" or float in (0, 0.5], default="auto"
        ``"auto"``: anomaly when any invariant is violated. A float: the
        threshold is that quantile of the training scores.

    Attributes
    ----------
    counter_ : TemplateCounter
        Template vocabulary; unseen templates share the last column.
    n_templates_ : int
        Templates seen in ``fit``.
    invariant_space_dim_ : int
        Estimated dimension of the invariant space (the search's target).
    n_candidates_ : int
        Candidate template sets the search built (at most ``max_candidates``).
    invariants_ : list of (tuple of int, ndarray of int)
        Columns of each invariant and their integer coefficients; column names
        are ``counter_.get_feature_names_out()``.
    invariant_matrix_ : ndarray of shape (n_templates + 1, n_invariants)
        Coefficients as a matrix: ``counts @ invariant_matrix_`` is zero when
        all invariants hold.
    offset_ : float
        ``decision_function = score_samples - offset_``.

    Notes
    -----
    ``score_samples`` is minus the total violation ``sum |counts @ theta|``.
    :meth:`explain` shares each violated invariant's violation equally among
    its templates. A template never seen in training is an invariant of its
    own (its count must be zero), so unseen templates are violations.

    Examples
    --------
    >>> from sklog.baselines import InvariantsMiner
    >>> normal = [["open", "read", "close"], ["open", "close", "open", "close"]] * 20
    >>> miner = InvariantsMiner().fit(normal)
    >>> miner.predict([["open", "close"], ["open", "read"]]).tolist()
    [1, -1]
    """

    _parameter_constraints = {
        **_CountDetector._parameter_constraints,
        "percentage": [Interval(Real, 0, 1, closed="right")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "max_invariant_length": [Interval(Integral, 1, None, closed="left"), None],
        "max_candidates": [Interval(Integral, 1, None, closed="left"), None],
        "scales": ["array-like"],
        "single_events": [StrOptions({"percentage", "unseen"})],
    }

    def __init__(self, percentage=0.98, epsilon=0.5, max_invariant_length=None,
                 max_candidates=50_000, scales=(1, 2, 3), single_events="unseen",
                 contamination="auto"):
        self.percentage = percentage
        self.epsilon = epsilon
        self.max_invariant_length = max_invariant_length
        self.max_candidates = max_candidates
        self.scales = scales
        self.single_events = single_events
        self.contamination = contamination

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Mine invariants from normal sessions.

        Parameters
        ----------
        X : sequence of sessions of template strings
        y : array-like of shape (n_sessions,) or None, default=None
            Ignored: every session is learned as normal. Labels with
            anomalies (``1``) in them trigger a ``UserWarning``; fit on the
            normal sessions only (``cv=NormalOnlySplit(...)`` in model selection).

        Returns
        -------
        self : InvariantsMiner
        """
        scales = np.asarray(self.scales)
        if scales.ndim != 1 or scales.size == 0 or not np.issubdtype(scales.dtype, np.integer) \
                or (scales <= 0).any():
            raise ValueError(
                f"scales must be a non-empty sequence of positive integers, got {self.scales!r}."
            )
        return self._fit_sessions(X, y)

    # -- fitting -------------------------------------------------------------------------
    def _fit_rows(self, rows, weights):
        # search state lives on self only while fitting (not pickled, not an attribute)
        self._rows, self._weights = rows, weights
        self._gram = (rows * weights[:, None]).T @ rows
        self._needed = self.percentage * weights.sum()
        try:
            self.invariant_space_dim_ = self._invariant_space_dim()
            self.invariants_ = self._search(self.invariant_space_dim_)
        finally:
            del self._rows, self._weights, self._gram, self._needed
        d = rows.shape[1]
        matrix = np.zeros((d, len(self.invariants_)))
        for j, (cols, theta) in enumerate(self.invariants_):
            matrix[list(cols), j] = theta
        self.invariant_matrix_ = matrix

    def _invariant_space_dim(self):
        """Singular directions (smallest first) along which most sessions are ~0."""
        _, vecs = np.linalg.eigh(self._gram)  # ascending eigenvalues
        near_zero = np.abs(self._rows @ vecs) < self.epsilon
        share = self._weights @ near_zero
        ok = share >= self._needed
        return int(len(ok) if ok.all() else np.argmin(ok))

    def _validity(self, candidates):
        """For each candidate column tuple: integer coefficients, or None when invalid."""
        if not candidates:
            return []
        cols = np.asarray(candidates)  # (B, k)
        k = cols.shape[1]
        sub = self._gram[cols[:, :, None], cols[:, None, :]]
        _, vecs = np.linalg.eigh(sub)
        theta_f = vecs[:, :, 0]  # eigenvector of the smallest eigenvalue
        result = [None] * len(candidates)
        alive = np.flatnonzero(~(np.abs(theta_f) < 1e-6).any(axis=1))
        m = self._rows.shape[0]
        step = max(1, (1 << 22) // max(m * k, 1))
        for scale in np.asarray(self.scales):
            if alive.size == 0:
                break
            vec = theta_f[alive]
            idx = np.argmin(np.abs(vec), axis=1)
            ratio = scale / vec[np.arange(len(alive)), idx]
            theta = np.round(vec * ratio[:, None])
            theta[np.arange(len(alive)), idx] = scale
            usable = ~(theta == 0).any(axis=1)
            valid = np.zeros(len(alive), dtype=bool)
            use = np.flatnonzero(usable)
            for start in range(0, len(use), step):
                part = use[start : start + step]
                gathered = self._rows[:, cols[alive[part]]]  # (m, b, k)
                resid = np.einsum("mbk,bk->mb", gathered, theta[part])
                valid[part] = self._weights @ (np.abs(resid) < 1e-8) >= self._needed
            for j in np.flatnonzero(valid):
                result[alive[j]] = theta[j].astype(np.int64)
            alive = alive[~valid]
        return result

    def _search(self, target):
        """loglizer's invariant search, with validity checks batched per length.

        Stops, with a warning, once ``max_candidates`` candidates have been built.
        """
        rows = self._rows
        d = rows.shape[1]
        support = self._weights @ (rows != 0)
        if self.single_events == "unseen":
            present = support > 0
        else:  # "count == 0" is kept like any invariant: when it holds on `percentage`
            present = support > self._weights.sum() - self._needed
        invariants = {(c,): np.array([1]) for c in range(d) if not present[c]}
        search_space = {(c,) for c in range(d) if present[c]}
        items = sorted(search_space)
        length = 2
        self.n_candidates_ = 0
        if len(invariants) >= target:
            return list(invariants.items())
        while items:
            if self.max_invariant_length is not None and length > self.max_invariant_length:
                break
            if self.max_candidates is None:
                joined, cut = _prefix_join(items, None), False
            else:  # one candidate more than the budget tells whether it cuts this length
                budget = self.max_candidates - self.n_candidates_
                joined = _prefix_join(items, budget + 1)
                cut = len(joined) > budget
                joined = joined[:budget]
            self.n_candidates_ += len(joined)
            joined = [c for c in joined
                      if all(s in search_space for s in combinations(c, length - 1))]
            search_space.update(joined)
            checks = self._validity(joined)
            items = []
            for item, theta in zip(joined, checks, strict=True):
                if item in invariants or item not in search_space:
                    continue
                if length > 2 and not all(s in search_space
                                          for s in combinations(item, length - 1)):
                    search_space.discard(item)
                    continue
                if theta is not None:
                    self._prune(invariants, set(item), search_space)
                    invariants[item] = theta
                    search_space.discard(item)
                else:
                    items.append(item)
                if len(invariants) >= target:
                    return list(invariants.items())
            if cut:
                warnings.warn(
                    f"InvariantsMiner stopped its search among sets of {length} templates "
                    f"after max_candidates={self.max_candidates} candidate sets, with "
                    f"{len(invariants)} of the {target} invariants the invariant space's "
                    "dimension asks for; raise max_candidates (None: no cap) to search on.",
                    ConvergenceWarning, stacklevel=6,  # the caller of fit
                )
                break
            length += 1
        return list(invariants.items())

    @staticmethod
    def _prune(invariants, new_items, search_space):
        for cols in invariants:
            common = set(cols) & new_items
            if not common:
                continue
            union = set(cols) | new_items
            for item in common:
                search_space.discard(tuple(sorted(union - {item})))

    # -- scoring -------------------------------------------------------------------------
    def _violations(self, block):
        return np.abs(block @ self.invariant_matrix_)

    def _score_dense(self, block):
        return -self._violations(block).sum(axis=1)

    def _contributions(self, block):
        share = (self.invariant_matrix_ != 0).astype(np.float64)
        share /= np.maximum(share.sum(axis=0), 1)
        return self._violations(block) @ share.T

    def _auto_offset(self):
        return -_TOLERANCE
