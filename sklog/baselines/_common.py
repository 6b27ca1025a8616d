"""Shared machinery of the count-based detectors (loglizer parity).

Every classic detector sees a session as its vector of template counts
(:class:`~sklog.feature_extraction.TemplateCounter`). Fitting works on the
*distinct* count vectors with their multiplicities, which is exact for all
three methods (weighted covariance, weighted support, complete linkage is
unchanged by duplicates) and keeps thousands of near-identical normal
sessions cheap. Scoring is vectorised over sessions in bounded-memory chunks.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..base import AnomalyDetectorMixin
from ..feature_extraction import TemplateCounter
from ..utils import OOV_ID, check_sessions

#: Dense float64 elements one chunk may hold (32 MiB).
_CHUNK_ELEMENTS = 1 << 22


def _chunk_rows(n_features):
    return max(1, _CHUNK_ELEMENTS // max(int(n_features), 1))


def unique_count_rows(counts):
    """Distinct rows of a sparse count matrix.

    Returns
    -------
    rows : ndarray of shape (n_unique, n_features)
        Dense distinct rows.
    inverse : ndarray of shape (n_sessions,)
        ``rows[inverse]`` rebuilds the input.
    weights : ndarray of shape (n_unique,)
        How many sessions share each distinct row.
    """
    n, d = counts.shape
    step = _chunk_rows(d)
    parts, inverses = [], []
    for start in range(0, n, step):
        block = counts[start : start + step].toarray()
        rows, inv = np.unique(block, axis=0, return_inverse=True)
        parts.append(rows)
        inverses.append(inv.ravel())
    if len(parts) == 1:
        rows, inverse = parts[0], inverses[0]
    else:
        rows, inv2 = np.unique(np.vstack(parts), axis=0, return_inverse=True)
        inv2 = inv2.ravel()
        offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
        inverse = np.concatenate([inv2[o + i] for o, i in zip(offsets, inverses, strict=True)])
    weights = np.bincount(inverse, minlength=len(rows)).astype(np.float64)
    return rows.astype(np.float64), inverse, weights


def loglizer_idf(rows, weights):
    """loglizer's un-smoothed idf, ``log(N / (df + 1e-8))``, from weighted distinct rows.

    Unlike the smoothed idf of :class:`TemplateCounter`, a template present in
    every training session gets weight 0 and a template absent from training
    (the unseen-template column) a large weight, as in loglizer's
    ``FeatureExtractor(term_weighting='tf-idf')``.
    """
    n = weights.sum()
    df = weights @ (rows > 0)
    return np.log(n / (df + 1e-8))


def weighted_quantile(values, weights, q):
    """The ``q`` quantile of ``values`` repeated ``weights`` times (linear interpolation)."""
    return float(np.quantile(np.repeat(values, weights.astype(np.int64)), q))


def spread_over_lines(counter, sessions, contributions):
    """Share each template's contribution among the lines of a session that hold it.

    The one mapping from per-template contributions to per-line weights, used
    by the count-based detectors and by :func:`sklog.inspection.explain` for
    ``TemplateCounter -> classifier`` pipelines: a line gets its template's
    contribution divided by the number of lines with that template in the
    session (lines of unseen templates share the out-of-vocabulary column).
    The weights of a session therefore add up to the contributions of the
    templates present in it; templates absent from a session (a zero count)
    reach no line.

    Parameters
    ----------
    counter : fitted TemplateCounter
    sessions : list of sessions of template strings
    contributions : callable
        ``contributions(start, stop)`` returns a dense array of shape
        ``(stop - start, n_templates + 1)``: the contribution of every column of
        ``counter`` to the scores of ``sessions[start:stop]``. Called on chunks
        of bounded memory.

    Returns
    -------
    weights : list of ndarray of shape (len(session),)
    """
    ids, lengths = counter.vocabulary_.encode_flat(sessions)
    n_columns = len(counter.vocabulary_.templates_) + 1
    cols = np.where(ids == OOV_ID, n_columns - 1, ids - 2)
    rows = np.repeat(np.arange(len(sessions)), lengths)
    # how many lines of its session share each line's column
    _, inverse, sizes = np.unique(rows * n_columns + cols, return_inverse=True,
                                  return_counts=True)
    same = sizes[inverse.ravel()].astype(np.float64)
    values = np.zeros(len(ids), dtype=np.float64)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.intp)
    step = _chunk_rows(n_columns)
    for s in range(0, len(sessions), step):
        stop = min(s + step, len(sessions))
        contrib = np.asarray(contributions(s, stop), dtype=np.float64)
        lo, hi = starts[s], starts[stop]
        values[lo:hi] = contrib[rows[lo:hi] - s, cols[lo:hi]] / same[lo:hi]
    return np.split(values, starts[1:-1]) if len(sessions) else []


class _CountDetector(AnomalyDetectorMixin, BaseEstimator):
    """Base of the count-vector detectors: sessions -> counts -> ``_fit_rows``.

    Subclasses implement ``_fit_rows(rows, weights)`` (distinct dense count
    rows and multiplicities), ``_score_dense(block)`` (score of dense count
    rows, higher = more normal), ``_contributions(block)`` (per-template share
    of the anomaly score, same shape as ``block``) and ``_auto_offset()``.
    """

    _parameter_constraints = {
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
    }

    def _fit_sessions(self, X, y=None):
        self._warn_on_anomalies_in_y(y)
        sessions = check_sessions(X, estimator=self)
        self.counter_ = TemplateCounter().fit(sessions)
        counts = self.counter_.transform(sessions)
        rows, _, weights = unique_count_rows(counts)
        self.n_templates_ = counts.shape[1] - 1
        self._fit_rows(rows, weights)
        if self.contamination == "auto":
            self.offset_ = float(self._auto_offset())
        else:
            scores = self._score_dense(rows)
            self.offset_ = weighted_quantile(scores, weights, self.contamination)
        return self

    def _counts(self, X):
        check_is_fitted(self)
        sessions = check_sessions(X, estimator=self)
        return sessions, self.counter_.transform(sessions)

    def score_samples(self, X):
        """Normality score of each session: higher is more normal.

        Parameters
        ----------
        X : sequence of sessions of template strings

        Returns
        -------
        scores : ndarray of shape (n_sessions,)
        """
        _, counts = self._counts(X)
        step = _chunk_rows(counts.shape[1])
        out = [self._score_dense(counts[s : s + step].toarray())
               for s in range(0, counts.shape[0], step)]
        return np.concatenate(out) if out else np.zeros(0)

    def explain(self, X):
        """Which positions drove each session's anomaly score.

        Each template's contribution to the score (see the class docstring)
        is shared equally among the positions holding it, so the values of a
        session add up to the part of its score carried by templates present
        in it. Higher means more anomalous.

        Parameters
        ----------
        X : sequence of sessions of template strings

        Returns
        -------
        contributions : list of ndarray of shape (len(session),)
            One float array per session, one value per position.
        """
        sessions, counts = self._counts(X)
        return spread_over_lines(self.counter_, sessions,
                                 lambda start, stop: self._contributions(
                                     counts[start:stop].toarray()))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = True
        return tags
