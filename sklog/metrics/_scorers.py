"""Scorers that treat the anomaly as the positive class, for detectors and classifiers.

A detector's ``predict`` returns ``-1`` for an anomaly and its
``decision_function`` is *higher for normal*; a classifier predicts the label
``1`` for an anomaly. Plain ``scoring="f1"`` on a detector therefore scores the
*normal* class; :func:`anomaly_scorer` gets both kinds right.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm
from sklearn.base import is_outlier_detector

_THRESHOLD_METRICS = {
    "f1": skm.f1_score,
    "precision": skm.precision_score,
    "recall": skm.recall_score,
}
_RANKING_METRICS = {
    "average_precision": skm.average_precision_score,
    "pr_auc": skm.average_precision_score,
    "roc_auc": skm.roc_auc_score,
}


def anomaly_mask(y, pos_label=None):
    """Boolean mask of anomalous sessions in a label vector.

    Labels follow the data contract (``0`` normal, ``1`` anomaly). A vector
    made only of ``+1``/``-1`` is read in the detector convention (``-1`` is
    the anomaly). ``pos_label`` overrides both.
    """
    y = np.asarray(y)
    if pos_label is not None:
        return y == pos_label
    values = set(np.unique(y).tolist())
    if -1 in values and values <= {-1, 1}:
        return y == -1
    return y == 1


def predict_anomaly(estimator, X, pos_label=1):
    """Boolean anomaly predictions of a fitted detector or classifier."""
    pred = np.asarray(estimator.predict(X))
    if is_outlier_detector(estimator):
        return pred == -1
    return pred == pos_label


def positive_proba(estimator, proba, pos_label=1):
    """The ``pos_label`` column of a classifier's ``predict_proba`` output (zeros when the
    classifier never saw that label)."""
    proba = np.asarray(proba)
    classes = list(estimator.classes_)
    if pos_label in classes:
        return proba[:, classes.index(pos_label)]
    return np.zeros(len(proba))


def anomaly_score(estimator, X, pos_label=1):
    """Continuous scores, *higher = more anomalous*, for ranking metrics."""
    if is_outlier_detector(estimator):
        if hasattr(estimator, "score_samples"):
            return -np.asarray(estimator.score_samples(X), dtype=float)
        return -np.asarray(estimator.decision_function(X), dtype=float)
    if hasattr(estimator, "predict_proba"):
        return positive_proba(estimator, estimator.predict_proba(X), pos_label)
    scores = np.asarray(estimator.decision_function(X), dtype=float)
    if scores.ndim == 1:
        return scores if list(estimator.classes_)[-1] == pos_label else -scores
    return scores[:, list(estimator.classes_).index(pos_label)]


class _AnomalyScorer:
    def __init__(self, name, pos_label):
        self.name = name
        self.pos_label = pos_label

    def __call__(self, estimator, X, y, sample_weight=None):
        y_true = anomaly_mask(y, None if self.pos_label == 1 else self.pos_label)
        if self.name in _THRESHOLD_METRICS:
            y_pred = predict_anomaly(estimator, X, self.pos_label)
            return float(
                _THRESHOLD_METRICS[self.name](
                    y_true, y_pred, zero_division=0, sample_weight=sample_weight
                )
            )
        scores = anomaly_score(estimator, X, self.pos_label)
        if y_true.all() or not y_true.any():
            return float("nan")
        return float(_RANKING_METRICS[self.name](y_true, scores, sample_weight=sample_weight))

    def __repr__(self):
        return f"anomaly_scorer({self.name!r})"


def anomaly_scorer(name="f1", *, pos_label=1):
    """A scorer for ``GridSearchCV`` / ``cross_val_score`` with anomaly = positive.

    Parameters
    ----------
    name : {"f1", "precision", "recall", "average_precision", "pr_auc", "roc_auc"}
        The metric. ``"pr_auc"`` is an alias of ``"average_precision"``.
    pos_label : int or str, default=1
        The anomaly label of classifiers; detectors always use ``-1``.

    Examples
    --------
    >>> from sklog.metrics import anomaly_scorer
    >>> anomaly_scorer("f1")
    anomaly_scorer('f1')
    """
    if name not in _THRESHOLD_METRICS and name not in _RANKING_METRICS:
        known = sorted([*_THRESHOLD_METRICS, *_RANKING_METRICS])
        raise ValueError(f"Unknown anomaly metric name={name!r}; expected one of {known}.")
    return _AnomalyScorer(name, pos_label)


def evaluate(estimator, X, y, *, pos_label=1):
    """Precision, recall, F1 (anomaly positive), PR-AUC and ROC-AUC of a fitted model.

    Returns
    -------
    dict
        Keys ``precision``, ``recall``, ``f1``, ``pr_auc``, ``roc_auc``,
        ``n_sessions``, ``n_anomalies``.

    Examples
    --------
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklog.metrics import evaluate
    >>> X = [[0.0], [0.1], [0.2], [10.0]]
    >>> sorted(evaluate(IsolationForest(random_state=0).fit(X), X, [0, 0, 0, 1]))[:3]
    ['f1', 'n_anomalies', 'n_sessions']
    """
    y_true = anomaly_mask(y, None if pos_label == 1 else pos_label)
    y_pred = predict_anomaly(estimator, X, pos_label)
    scores = anomaly_score(estimator, X, pos_label)
    return evaluate_predictions(y_true, y_pred, scores)


def evaluate_predictions(y_true, y_pred, scores=None):
    """The :func:`evaluate` metrics from boolean truths, predictions and scores."""
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    p, r, f, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, average="binary", zero_division=0
    )
    result = {"precision": float(p), "recall": float(r), "f1": float(f)}
    both = y_true.any() and not y_true.all()
    if scores is not None and both:
        result["pr_auc"] = float(skm.average_precision_score(y_true, scores))
        result["roc_auc"] = float(skm.roc_auc_score(y_true, scores))
    else:
        result["pr_auc"] = result["roc_auc"] = float("nan")
    result["n_sessions"] = int(len(y_true))
    result["n_anomalies"] = int(y_true.sum())
    return result
