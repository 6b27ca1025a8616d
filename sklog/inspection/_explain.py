"""Explanations and one-pass scoring for fitted estimators and pipelines.

A pipeline ``DrainTemplater -> model`` answers ``predict``, ``score_samples``
and ``explain`` by running its transforming steps again for each call.
:func:`score_sessions` runs them once per batch and asks the last step for the
decisions, the scores and the explanations, with the same results as
:func:`~sklog.metrics.predict_anomaly`, :func:`~sklog.metrics.anomaly_score`
and :func:`explain` called one by one.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..base import AnomalyDetectorMixin
from ..metrics import anomaly_score, predict_anomaly

_EXPLAIN_OPTIONS = (False, True, "anomalies")


class SessionScores(NamedTuple):
    """What :func:`score_sessions` returns for a batch of sessions.

    Attributes
    ----------
    is_anomaly : ndarray of bool, shape (n_sessions,)
        The model's own decisions (:func:`~sklog.metrics.predict_anomaly`).
    scores : ndarray of float, shape (n_sessions,)
        Higher = more anomalous (:func:`~sklog.metrics.anomaly_score`).
    explanations : list or None
        Per session, one weight per line (what drove its score) or ``None``
        (session not explained, or its weights do not match its lines);
        ``None`` altogether when none was asked for or the model cannot explain.
    """

    is_anomaly: np.ndarray
    scores: np.ndarray
    explanations: list | None


def _last_step(model):
    """The estimator that scores, and the pipeline steps before it (``None``: none)."""
    steps = getattr(model, "steps", None)
    if hasattr(model, "explain") or not steps:
        return model, None
    return steps[-1][1], (model[:-1] if len(steps) > 1 else None)


def _explanations(estimator, data, sessions, rows):
    """Weights of the sessions at positions ``rows`` (others ``None``), checked against lines."""
    from sklearn.utils import _safe_indexing

    out = [None] * len(sessions)
    if len(rows):
        subset = data if len(rows) == len(sessions) else _safe_indexing(data, rows)
        for i, weights in zip(rows, estimator.explain(subset), strict=True):
            if weights is not None and len(weights) == len(sessions[i]):
                out[i] = np.asarray(weights, dtype=float)
    return out


def explain(model, sessions):
    """Per-line weights of what drove each session's score.

    Uses ``model.explain`` when the model has one, else the ``explain`` of a
    pipeline's last step applied to the output of the steps before it.

    Parameters
    ----------
    model : fitted estimator or Pipeline
    sessions : sequence of sessions
        What ``model.predict`` reads (raw lines for a ``DrainTemplater``
        pipeline).

    Returns
    -------
    weights : list or None
        Per session an array with one weight per line (higher = drove the
        score more), or ``None`` where the model's weights do not match the
        session's lines; ``None`` when the model cannot explain.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklog.baselines import InvariantsMiner
    >>> from sklog.inspection import explain
    >>> from sklog.preprocessing import DrainTemplater
    >>> normal = [["open file 1", "read file 1", "close file 1"]] * 20
    >>> model = make_pipeline(DrainTemplater(), InvariantsMiner()).fit(normal)
    >>> weights = explain(model, [["open file 2", "disk failure on 2", "close file 2"]])
    >>> int(weights[0].argmax())
    1
    """
    estimator, head = _last_step(model)
    if not hasattr(estimator, "explain"):
        return None
    data = sessions if head is None else head.transform(sessions)
    return _explanations(estimator, data, sessions, np.arange(len(sessions)))


def _decisions_and_scores(estimator, data, pos_label):
    """:func:`predict_anomaly` and :func:`anomaly_score`, from one scoring pass when possible."""
    cls = type(estimator)
    if (isinstance(estimator, AnomalyDetectorMixin)
            and cls.predict is AnomalyDetectorMixin.predict
            and cls.decision_function is AnomalyDetectorMixin.decision_function):
        labels, normality = estimator.predict_and_score_samples(data)
        return labels == -1, -np.asarray(normality, dtype=float)
    return (predict_anomaly(estimator, data, pos_label),
            anomaly_score(estimator, data, pos_label))


def score_sessions(model, sessions, *, explain=False, pos_label=1):
    """Decisions, anomaly scores and (optionally) explanations of a batch, in one pass.

    A pipeline's transforming steps (e.g. ``DrainTemplater``) run once for the
    batch; its last step then decides, scores and explains. The results are
    those of :func:`~sklog.metrics.predict_anomaly`,
    :func:`~sklog.metrics.anomaly_score` and :func:`explain` called one by one.

    Parameters
    ----------
    model : fitted estimator or Pipeline
        A detector or a classifier.
    sessions : sequence of sessions
    explain : {False, True, "anomalies"}, default=False
        Explain no session, every session, or only the sessions decided
        anomalous (the others get ``None``).
    pos_label : int or str, default=1
        The anomaly label of classifiers.

    Returns
    -------
    result : SessionScores
        ``(is_anomaly, scores, explanations)``.

    Examples
    --------
    >>> from sklog.baselines import InvariantsMiner
    >>> from sklog.inspection import score_sessions
    >>> model = InvariantsMiner().fit([["open", "read", "close"]] * 20)
    >>> batch = [["open", "read", "close"], ["open", "fail", "close"]]
    >>> is_anomaly, scores, explanations = score_sessions(model, batch, explain="anomalies")
    >>> is_anomaly.tolist(), scores.tolist(), explanations[0]
    ([False, True], [0.0, 2.0], None)
    >>> explanations[1].tolist()
    [0.0, 1.0, 0.5]
    """
    if explain not in _EXPLAIN_OPTIONS:
        raise ValueError(f"explain must be False, True or 'anomalies', got {explain!r}.")
    estimator, head = _last_step(model)
    data = sessions if head is None else head.transform(sessions)
    is_anomaly, scores = _decisions_and_scores(estimator, data, pos_label)
    explanations = None
    if explain is not False and hasattr(estimator, "explain"):
        rows = np.flatnonzero(is_anomaly) if explain == "anomalies" else np.arange(len(sessions))
        explanations = _explanations(estimator, data, sessions, rows)
    return SessionScores(is_anomaly, scores, explanations)
