"""The detector contract of GUIDE section 1, written once for every detector."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import OutlierMixin


class AnomalyDetectorMixin(OutlierMixin):
    """``decision_function`` and ``predict`` from ``score_samples`` and ``offset_``.

    A detector implements ``score_samples`` (higher = more normal) and sets
    ``offset_`` in ``fit`` from training scores only; this mixin derives the
    rest, so every detector thresholds the same way.
    """

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for anomalies.

        Parameters
        ----------
        X : sequence of sessions of template strings

        Returns
        -------
        scores : ndarray of shape (n_sessions,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """``+1`` for a normal session, ``-1`` for an anomaly.

        Parameters
        ----------
        X : sequence of sessions of template strings

        Returns
        -------
        labels : ndarray of shape (n_sessions,)
        """
        return self._labels(self.decision_function(X))

    def _warn_on_anomalies_in_y(self, y):
        """Warn when ``fit`` is given labels with anomalies (``1``) in them.

        A detector ignores ``y`` and learns from every row it is given, so the
        anomalies in a labeled training set are learned as normal behaviour:
        in ``cross_val_score`` or ``GridSearchCV``, ``cv=NormalOnlySplit(...)``
        trains on the normal sessions only.
        """
        if y is None:
            return
        n_anomalies = int(np.sum(np.asarray(y) == 1))
        if n_anomalies:
            warnings.warn(
                f"{type(self).__name__}.fit was given y with {n_anomalies} anomalies (label 1): "
                "a detector ignores y and learns from every row it is given, anomalies "
                "included. Fit it on normal sessions only, e.g. "
                "cross_val_score(..., cv=NormalOnlySplit(...)).", UserWarning, stacklevel=3)

    @staticmethod
    def _labels(decision):
        return np.where(decision < 0, -1, 1)

    def predict_and_score_samples(self, X):
        """``(predict(X), score_samples(X))`` from one scoring pass.

        Parameters
        ----------
        X : sequence of sessions of template strings

        Returns
        -------
        labels : ndarray of shape (n_sessions,)
        scores : ndarray of shape (n_sessions,)
        """
        scores = self.score_samples(X)
        return self._labels(scores - self.offset_), scores
