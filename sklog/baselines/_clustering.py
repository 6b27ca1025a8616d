"""Log clustering of Lin et al. (ICSE 2016), with loglizer's offline + online phases."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval

from ._common import _CountDetector, loglizer_idf


def _normalise(vectors):
    """Unit rows (zero rows stay zero) and a mask of the zero rows."""
    norms = np.linalg.norm(vectors, axis=1)
    zero = norms <= 1e-12
    return vectors / np.where(zero, 1.0, norms)[:, None], zero


def _cosine_distances(a, a_zero, b, b_zero):
    """``1 - cos`` between unit rows; two empty (zero) vectors are at distance 0."""
    dist = 1.0 - a @ b.T
    dist[np.ix_(a_zero, b_zero)] = 0.0
    dist = np.clip(dist, 0.0, 2.0)
    dist[dist < 1e-8] = 0.0
    return dist


class LogClustering(_CountDetector):
    """Distance to clusters of normal sessions (Lin et al., ICSE 2016).

    Sessions become tf-idf weighted template count vectors. Normal sessions
    are grouped by complete-linkage agglomerative clustering under cosine
    distance, cut at ``max_dist`` (offline phase on the
    ``n_bootstrap_samples`` most frequent distinct vectors), then the other
    vectors join their nearest cluster within ``max_dist`` or start a new one
    (online phase), as in loglizer. Each cluster is represented by its mean.
    A session is anomalous when its nearest representative is farther than
    ``anomaly_threshold``.

    Distinct count vectors are clustered once, weighted by how many sessions
    share them: thousands of identical normal sessions cost one row.

    Parameters
    ----------
    max_dist : float in (0, 2), default=0.3
        Cosine distance at which clustering stops merging.
    anomaly_threshold : float in (0, 2), default=0.3
        Distance to the nearest cluster above which a session is anomalous
        (``contamination="auto"``).
    n_bootstrap_samples : int >= 1, default=1000
        Distinct vectors clustered offline (most frequent first); the rest
        are added online.
    tfidf : bool, default=True
        Weight counts by loglizer's idf ``log(N / df)`` learned in ``fit``.
    contamination : "auto" or float in (0, 0.5], default="auto"
        ``"auto"``: ``anomaly_threshold``. A float: the threshold is that
        quantile of the training scores.

    Attributes
    ----------
    counter_ : TemplateCounter
        Template vocabulary; unseen templates share the last column.
    n_templates_ : int
        Templates seen in ``fit``.
    idf_ : ndarray of shape (n_templates + 1,)
        Column weights (ones when ``tfidf=False``).
    cluster_centers_ : ndarray of shape (n_clusters, n_templates + 1)
        Cluster representatives (weighted means).
    cluster_sizes_ : ndarray of shape (n_clusters,)
        Training sessions per cluster.
    offset_ : float
        ``decision_function = score_samples - offset_``.

    Notes
    -----
    ``score_samples`` is minus the cosine distance to the nearest
    representative. :meth:`explain` uses ``1 - cos(x, r) = sum_j (x_j/|x| -
    r_j/|r|)^2 / 2``: each template's term of that sum.

    Examples
    --------
    >>> from sklog.baselines import LogClustering
    >>> normal = [["open", "read", "close"], ["open", "write", "close"]] * 20
    >>> detector = LogClustering().fit(normal)
    >>> detector.predict([["open", "read", "close"], ["crash", "crash"]]).tolist()
    [1, -1]
    """

    _parameter_constraints = {
        **_CountDetector._parameter_constraints,
        "max_dist": [Interval(Real, 0, 2, closed="neither")],
        "anomaly_threshold": [Interval(Real, 0, 2, closed="neither")],
        "n_bootstrap_samples": [Interval(Integral, 1, None, closed="left")],
        "tfidf": ["boolean"],
    }

    def __init__(self, max_dist=0.3, anomaly_threshold=0.3, n_bootstrap_samples=1000,
                 tfidf=True, contamination="auto"):
        self.max_dist = max_dist
        self.anomaly_threshold = anomaly_threshold
        self.n_bootstrap_samples = n_bootstrap_samples
        self.tfidf = tfidf
        self.contamination = contamination

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Cluster normal sessions.

        Parameters
        ----------
        X : sequence of sessions of template strings
        y : array-like of shape (n_sessions,) or None, default=None
            Ignored: every session is learned as normal. Labels with
            anomalies (``1``) in them trigger a ``UserWarning``; fit on the
            normal sessions only (``cv=NormalOnlySplit(...)`` in model selection).

        Returns
        -------
        self : LogClustering
        """
        return self._fit_sessions(X, y)

    def _fit_rows(self, rows, weights):
        d = rows.shape[1]
        self.idf_ = loglizer_idf(rows, weights) if self.tfidf else np.ones(d)
        order = np.lexsort((np.arange(len(rows)), -weights))  # most frequent first
        vectors, weights = rows[order] * self.idf_, weights[order]
        unit, zero = _normalise(vectors)

        n_boot = min(self.n_bootstrap_samples, len(vectors))
        if n_boot == 1:
            labels = np.zeros(1, dtype=np.int64)
        else:
            dist = _cosine_distances(unit[:n_boot], zero[:n_boot], unit[:n_boot], zero[:n_boot])
            dist = (dist + dist.T) / 2
            np.fill_diagonal(dist, 0.0)
            tree = linkage(squareform(dist, checks=False), method="complete")
            labels = fcluster(tree, self.max_dist, criterion="distance") - 1
        n_clusters = int(labels.max()) + 1
        capacity = max(n_clusters, 16)
        centers = np.zeros((capacity, d))
        sizes = np.zeros(capacity)
        np.add.at(centers, labels, vectors[:n_boot] * weights[:n_boot, None])
        np.add.at(sizes, labels, weights[:n_boot])
        centers[:n_clusters] /= sizes[:n_clusters, None]
        c_unit, c_zero = np.zeros((capacity, d)), np.zeros(capacity, dtype=bool)
        c_unit[:n_clusters], c_zero[:n_clusters] = _normalise(centers[:n_clusters])

        for i in range(n_boot, len(vectors)):  # online phase, one distinct vector at a time
            dist = _cosine_distances(unit[i : i + 1], zero[i : i + 1],
                                     c_unit[:n_clusters], c_zero[:n_clusters])[0]
            j = int(np.argmin(dist))
            if dist[j] <= self.max_dist:
                sizes[j] += weights[i]
                centers[j] += (vectors[i] - centers[j]) * (weights[i] / sizes[j])
                c_unit[j : j + 1], c_zero[j : j + 1] = _normalise(centers[j : j + 1])
                continue
            if n_clusters == capacity:
                capacity *= 2
                centers, sizes, c_unit, c_zero = (
                    np.resize(a, (capacity, *a.shape[1:])) for a in (centers, sizes, c_unit,
                                                                     c_zero))
            centers[n_clusters], sizes[n_clusters] = vectors[i], weights[i]
            c_unit[n_clusters], c_zero[n_clusters] = unit[i], zero[i]
            n_clusters += 1
        self.cluster_centers_ = centers[:n_clusters].copy()
        self.cluster_sizes_ = sizes[:n_clusters].copy()

    def _nearest(self, block):
        unit, zero = _normalise(block * self.idf_)
        c_unit, c_zero = _normalise(self.cluster_centers_)
        step = max(1, (1 << 22) // len(c_unit))
        dist = np.empty(len(block))
        nearest = np.empty(len(block), dtype=np.int64)
        for s in range(0, len(block), step):
            part = _cosine_distances(unit[s : s + step], zero[s : s + step], c_unit, c_zero)
            nearest[s : s + step] = np.argmin(part, axis=1)
            dist[s : s + step] = part[np.arange(len(part)), nearest[s : s + step]]
        return unit, c_unit, nearest, dist

    def _score_dense(self, block):
        return -self._nearest(block)[3]

    def _contributions(self, block):
        unit, c_unit, nearest, _ = self._nearest(block)
        return 0.5 * (unit - c_unit[nearest]) ** 2

    def _auto_offset(self):
        return -self.anomaly_threshold
