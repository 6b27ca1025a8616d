"""PCA detector of Xu et al. (SOSP 2009), with loglizer's details."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy import stats
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval

from ._common import _CountDetector, loglizer_idf


def q_statistic_threshold(residual_eigenvalues, confidence):
    """Jackson-Mudholkar Q-statistic: the squared-prediction-error limit at ``confidence``.

    ``c_alpha`` is the two-sided normal quantile, as in loglizer's table
    (``confidence=0.999`` gives ``c_alpha=3.2905``). When the approximation is
    undefined (``h0 <= 0``) Box's scaled chi-square approximation is used.
    """
    lam = np.asarray(residual_eigenvalues, dtype=np.float64)
    lam = lam[lam > 0]
    if lam.size == 0:
        return 0.0
    phi1, phi2, phi3 = (np.sum(lam ** (i + 1)) for i in range(3))
    c_alpha = stats.norm.ppf(1 - (1 - confidence) / 2)
    h0 = 1.0 - 2.0 * phi1 * phi3 / (3.0 * phi2 * phi2)
    if h0 > 0:
        inner = (c_alpha * np.sqrt(2 * phi2 * h0 * h0) / phi1
                 + 1.0 + phi2 * h0 * (h0 - 1) / (phi1 * phi1))
        if inner > 0:
            return float(phi1 * inner ** (1.0 / h0))
    g, h = phi2 / phi1, phi1 * phi1 / phi2  # Box (1954): Q ~ g * chi2(h)
    return float(g * stats.chi2.ppf(confidence, h))


class PCADetector(_CountDetector):
    """Residual-subspace PCA on template counts (Xu et al., SOSP 2009).

    Sessions become tf-idf weighted, zero-mean template count vectors
    (loglizer's ``FeatureExtractor(term_weighting='tf-idf',
    normalization='zero-mean')``). The principal subspace explaining
    ``n_components`` of the variance is normal behaviour; a session's squared
    prediction error (SPE), its squared distance from that subspace, is its
    anomaly score. The published threshold is the Q-statistic at
    ``confidence``.

    Parameters
    ----------
    n_components : float in (0, 1) or int >= 1, default=0.95
        Fraction of variance kept in the normal subspace, or a number of
        components.
    confidence : float in (0, 1), default=0.999
        Confidence level of the Q-statistic threshold (``contamination="auto"``).
        The default matches loglizer's ``c_alpha=3.2905``.
    tfidf : bool, default=True
        Weight counts by loglizer's idf ``log(N / df)`` learned in ``fit``;
        unseen templates get a large weight.
    contamination : "auto" or float in (0, 0.5], default="auto"
        ``"auto"``: anomaly when SPE exceeds the Q-statistic. A float: the
        threshold is that quantile of the training scores.

    Attributes
    ----------
    counter_ : TemplateCounter
        Template vocabulary; unseen templates share the last column.
    n_templates_ : int
        Templates seen in ``fit``.
    idf_ : ndarray of shape (n_templates + 1,)
        Column weights (ones when ``tfidf=False``).
    mean_ : ndarray of shape (n_templates + 1,)
        Mean weighted count vector of the training sessions.
    components_ : ndarray of shape (n_templates + 1, n_components)
        Orthonormal basis of the normal subspace.
    n_components_ : int
    explained_variance_ : ndarray of shape (n_templates + 1,)
        Eigenvalues of the training covariance, descending.
    threshold_ : float
        Q-statistic SPE limit at ``confidence``.
    offset_ : float
        ``decision_function = score_samples - offset_``.

    Notes
    -----
    ``score_samples`` is ``-SPE``; :meth:`explain` gives each template's
    squared residual, which add up to the SPE.

    Examples
    --------
    >>> from sklog.baselines import PCADetector
    >>> normal = [["open", "read", "close"], ["open", "write", "close"]] * 20
    >>> detector = PCADetector().fit(normal)
    >>> detector.predict([["open", "read", "close"], ["open", "crash"]]).tolist()
    [1, -1]
    """

    _parameter_constraints = {
        **_CountDetector._parameter_constraints,
        "n_components": [Interval(Real, 0, 1, closed="neither"),
                         Interval(Integral, 1, None, closed="left")],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
        "tfidf": ["boolean"],
    }

    def __init__(self, n_components=0.95, confidence=0.999, tfidf=True, contamination="auto"):
        self.n_components = n_components
        self.confidence = confidence
        self.tfidf = tfidf
        self.contamination = contamination

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the normal subspace and threshold from normal sessions.

        Parameters
        ----------
        X : sequence of sessions of template strings
        y : array-like of shape (n_sessions,) or None, default=None
            Ignored: every session is learned as normal. Labels with
            anomalies (``1``) in them trigger a ``UserWarning``; fit on the
            normal sessions only (``cv=NormalOnlySplit(...)`` in model selection).

        Returns
        -------
        self : PCADetector
        """
        return self._fit_sessions(X, y)

    def _fit_rows(self, rows, weights):
        d = rows.shape[1]
        n = weights.sum()
        self.idf_ = loglizer_idf(rows, weights) if self.tfidf else np.ones(d)
        values = rows * self.idf_
        self.mean_ = weights @ values / n
        centred = values - self.mean_
        cov = (centred * weights[:, None]).T @ centred / n
        eigvals, eigvecs = np.linalg.eigh(cov)
        order = np.argsort(eigvals)[::-1]
        eigvals, eigvecs = np.clip(eigvals[order], 0, None), eigvecs[:, order]
        if isinstance(self.n_components, Integral):
            k = min(int(self.n_components), d)
        else:
            total = eigvals.sum()
            k = 0 if total <= 0 else int(np.searchsorted(
                np.cumsum(eigvals) / total, self.n_components - 1e-12) + 1)
            k = min(k, d)
        self.n_components_ = k
        self.components_ = eigvecs[:, :k]
        self.explained_variance_ = eigvals
        # eigenvalues at rounding level are zero; an exactly flat residual space still
        # tolerates rounding noise instead of flagging every session
        scale = max(eigvals.sum(), 1.0)
        residual = eigvals[k:][eigvals[k:] > 1e-12 * scale]
        self.threshold_ = max(q_statistic_threshold(residual, self.confidence), 1e-9 * scale)

    def _residual(self, block):
        centred = block * self.idf_ - self.mean_
        return centred - (centred @ self.components_) @ self.components_.T

    def _score_dense(self, block):
        residual = self._residual(block)
        return -np.einsum("ij,ij->i", residual, residual)

    def _contributions(self, block):
        return self._residual(block) ** 2

    def _auto_offset(self):
        return -self.threshold_
