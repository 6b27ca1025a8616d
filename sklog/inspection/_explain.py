"""Explanations and one-pass scoring for fitted estimators and pipelines.

A pipeline ``DrainTemplater -> model`` answers ``predict``, ``score_samples``
and ``explain`` by running its transforming steps again for each call.
:func:`score_sessions` runs them once per batch and asks the last step for the
decisions, the scores and the explanations, with the same results as
:func:`~sklog.metrics.predict_anomaly`, :func:`~sklog.metrics.anomaly_score`
and :func:`explain` called one by one.

Detectors and the Siamese classifier explain themselves (``explain``). A
pipeline ``... -> TemplateCounter -> ... -> classifier`` of the supervised
baselines is explained here, per template and then per line
(``sklog.baselines._common.spread_over_lines``), by an attribution that is
exact for the classifier's own score:

- linear models (``coef_``: logistic regression, linear SVM, ...): the
  contribution of a template is ``coef_ * feature``, so the contributions of a
  session add up to ``decision_function - intercept_``;
- a decision tree (``tree_``): Saabas' decision-path attribution, where each
  split on the path moves the node's anomaly probability and the move is
  credited to the split's template; contributions add up to
  ``predict_proba[:, anomaly] -`` the root's (training) anomaly share;
- histogram gradient boosting: the same path attribution on every tree, with
  the value of an inner node taken as the training-count-weighted mean of its
  leaves, so contributions add up to ``decision_function`` minus the model's
  expected raw score (the baseline plus each tree's mean leaf value).

A pipeline ``ByteWindower -> model`` (CLAD) scores compressed bytes, whose
positions do not map to lines: each line's weight is what removing it takes
off the anomaly score (the session without that line is compressed and
scored again), so the line whose absence looks most normal comes first.

Other classifiers are not explained (``None``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.base import is_outlier_detector

from ..base import AnomalyDetectorMixin
from ..metrics import anomaly_score, predict_anomaly
from ..metrics._scorers import positive_proba

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


class _Plan(NamedTuple):
    """How a model is scored and explained, running each transforming step once.

    ``front`` turns sessions into what ``explainer.explain`` reads, ``back``
    turns that into what ``estimator`` reads (``None``: nothing to run).
    ``explainer`` is ``None`` when the model cannot explain.
    """

    front: object
    back: object
    estimator: object
    explainer: object


def _plan(model, pos_label):
    steps = getattr(model, "steps", None)
    if hasattr(model, "explain") or not steps:
        return _Plan(None, None, model, model if hasattr(model, "explain") else None)
    estimator = steps[-1][1]
    head = model[:-1] if len(steps) > 1 else None
    from ..preprocessing import ByteWindower

    if head is not None and any(isinstance(step, ByteWindower) for _, step in head.steps):
        return _Plan(None, head, estimator, _LineOcclusion(head, estimator, pos_label))
    if hasattr(estimator, "explain"):
        return _Plan(head, None, estimator, estimator)
    from ..feature_extraction import TemplateCounter

    counters = [i for i, (_, step) in enumerate(steps[:-1]) if isinstance(step, TemplateCounter)]
    attribution = _attribution(estimator, pos_label) if counters else None
    if attribution is None:
        return _Plan(head, None, estimator, None)
    k = counters[-1]
    middle = model[k + 1:-1] if k + 1 < len(steps) - 1 else None
    explainer = _CountModelExplainer(steps[k][1], middle, attribution)
    return _Plan(model[:k] if k else None, model[k:-1], estimator, explainer)


def _transform(steps, data):
    return data if steps is None else steps.transform(data)


# -- attributions of count-based classifiers --------------------------------------------------

def _orientation(estimator, pos_label):
    """``(column, sign)``: the decision column that scores ``pos_label``, or ``None``.

    Binary models have one decision column whose positive side is
    ``classes_[1]``; the sign turns it towards ``pos_label``.
    """
    classes = list(getattr(estimator, "classes_", ()))
    if pos_label not in classes:
        return None
    k = classes.index(pos_label)
    return (0, 1.0 if k == 1 else -1.0) if len(classes) == 2 else (k, 1.0)


def _attribution(estimator, pos_label):
    """``f(X) -> (contributions, bias)`` for a fitted classifier, or ``None``.

    ``contributions`` has the shape of the dense input ``X``: what each feature
    added to the score of ``pos_label`` (see the module docstring), and
    ``contributions.sum(1) + bias`` is that score exactly (up to rounding).
    """
    orientation = _orientation(estimator, pos_label)
    if orientation is None:
        return None
    column, sign = orientation
    if hasattr(estimator, "coef_") and hasattr(estimator, "intercept_"):
        coef = np.atleast_2d(estimator.coef_)
        intercept = np.atleast_1d(estimator.intercept_)
        row = column if coef.shape[0] > 1 else 0
        weights, bias = sign * np.asarray(coef[row], dtype=float), sign * float(intercept[row])
        return lambda X: (X * weights, bias)
    if hasattr(estimator, "tree_"):
        return _decision_tree_attribution(estimator, pos_label)
    if hasattr(estimator, "_predictors") and hasattr(estimator, "_baseline_prediction"):
        return _boosting_attribution(estimator, column, sign)
    return None


def _path_contributions(X, tree, out):
    """Add each split's change of node value to the split feature (Saabas), for every row.

    ``tree`` is ``(left, right, feature, threshold, value)``, ``left < 0`` at
    leaves, rows going left when ``X[row, feature] <= threshold``. Walks all
    rows down the tree together, one level per step. Returns the root value.
    """
    left, right, feature, threshold, value = tree
    node = np.zeros(len(X), dtype=np.intp)
    active = np.arange(len(X))
    while active.size:
        active = active[left[node[active]] >= 0]
        current = node[active]
        f = feature[current]
        child = np.where(X[active, f] <= threshold[current], left[current], right[current])
        out[active, f] += value[child] - value[current]
        node[active] = child
    return value[0]


def _decision_tree_attribution(estimator, pos_label):
    tree = estimator.tree_
    if tree.value.shape[1] != 1:  # multi-output
        return None
    share = tree.value[:, 0, :] / tree.value[:, 0, :].sum(axis=1, keepdims=True)
    arrays = (tree.children_left, tree.children_right, tree.feature, tree.threshold,
              share[:, list(estimator.classes_).index(pos_label)])

    def attribute(X):
        out = np.zeros(X.shape, dtype=np.float64)
        # the tree compares float32 features, as its predict does
        bias = _path_contributions(np.asarray(X, dtype=np.float32), arrays, out)
        return out, float(bias)

    return attribute


def _boosting_attribution(estimator, column, sign):
    trees = []
    for predictors in estimator._predictors:
        nodes = predictors[column].nodes
        if nodes["is_categorical"].any():
            return None
        left = np.where(nodes["is_leaf"], -1, nodes["left"].astype(np.intp))
        right = nodes["right"].astype(np.intp)
        value = nodes["value"].astype(np.float64)
        count = nodes["count"].astype(np.float64)
        # an inner node's value: the training-count-weighted mean of its leaves
        # (children are numbered after their parent)
        for i in np.flatnonzero(left >= 0)[::-1]:
            lo, hi = left[i], right[i]
            value[i] = (count[lo] * value[lo] + count[hi] * value[hi]) / (count[lo] + count[hi])
        trees.append((left, right, nodes["feature_idx"].astype(np.intp),
                      nodes["num_threshold"], sign * value))
    baseline = sign * float(np.ravel(estimator._baseline_prediction)[column])

    def attribute(X):
        X = np.asarray(X, dtype=np.float64)
        out = np.zeros(X.shape, dtype=np.float64)
        bias = baseline + sum(_path_contributions(X, tree, out) for tree in trees)
        return out, float(bias)

    return attribute


class _CountModelExplainer:
    """``explain(sessions of templates)`` for a ``TemplateCounter -> ... -> classifier`` tail.

    ``middle`` are the steps between the counter and the classifier; they
    must keep the counter's columns (a densifier, a scaler) or name the
    columns they keep (``get_feature_names_out``).
    """

    def __init__(self, counter, middle, attribution):
        self.counter = counter
        self.middle = middle
        self.attribution = attribution

    def _columns(self, n_features):
        """Counter column of each classifier input column; ``None``: same columns."""
        names = self.counter.get_feature_names_out()
        if n_features == len(names):
            return None
        index = {name: i for i, name in enumerate(names)}
        kept = self.middle.get_feature_names_out(names)  # raises when unknown
        return np.asarray([index[name] for name in kept], dtype=np.intp)

    def explain(self, sessions):
        import scipy.sparse as sp

        from ..baselines._common import spread_over_lines
        from ..utils import check_sessions

        sessions = check_sessions(sessions)
        features = _transform(self.middle, self.counter.transform(sessions))
        try:
            columns = self._columns(features.shape[1])
        except (AttributeError, KeyError, ValueError, TypeError):
            return [None] * len(sessions)
        n_columns = len(self.counter.get_feature_names_out())

        def contributions(start, stop):
            block = features[start:stop]
            block = block.toarray() if sp.issparse(block) else np.asarray(block, dtype=float)
            contrib, _ = self.attribution(block)
            if columns is None:
                return contrib
            out = np.zeros((stop - start, n_columns))
            out[:, columns] = contrib
            return out

        return spread_over_lines(self.counter, sessions, contributions)


class _LineOcclusion:
    """``explain(sessions of raw lines)``: per line, the anomaly score it adds to its session.

    Weight of line ``j`` = score of the session minus score of the session
    without line ``j``, every variant transformed by ``head`` and scored by
    ``estimator`` in one batch (``sum of lines + sessions`` rows).
    """

    def __init__(self, head, estimator, pos_label):
        self.head = head
        self.estimator = estimator
        self.pos_label = pos_label

    def explain(self, sessions):
        from ..utils import check_sessions

        sessions = check_sessions(sessions, allow_numeric=False)
        variants, owners = [], []
        for session in sessions:
            variants.append(session)
            variants.extend(session[:j] + session[j + 1:] for j in range(len(session)))
            owners.append(len(session))
        if not variants:
            return []
        scores = anomaly_score(self.estimator, self.head.transform(variants), self.pos_label)
        out, start = [], 0
        for n in owners:
            out.append(scores[start] - scores[start + 1 : start + 1 + n])
            start += 1 + n
        return out


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


def explain(model, sessions, *, pos_label=1):
    """Per-line weights of what drove each session's score.

    Uses ``model.explain`` when the model has one, else the ``explain`` of a
    pipeline's last step applied to the output of the steps before it. A
    pipeline ``TemplateCounter -> classifier`` (the supervised baselines:
    logistic regression, linear SVM, decision tree, histogram gradient
    boosting) is explained by per-template contributions to the classifier's
    anomaly score, shared among the lines of each template (see the module
    docstring: exact for linear models and trees).

    Parameters
    ----------
    model : fitted estimator or Pipeline
    sessions : sequence of sessions
        What ``model.predict`` reads (raw lines for a ``DrainTemplater``
        pipeline).
    pos_label : int or str, default=1
        The anomaly label of classifiers: weights say what pushed towards it.

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

    A supervised baseline points at the line of the template that marks anomalies:

    >>> from sklog.baselines import make_logistic_regression
    >>> X = [["open", "read", "close"]] * 20 + [["open", "error", "close"]] * 20
    >>> model = make_logistic_regression(random_state=0).fit(X, [0] * 20 + [1] * 20)
    >>> int(explain(model, [["open", "error", "close"]])[0].argmax())
    1
    """
    plan = _plan(model, pos_label)
    if plan.explainer is None:
        return None
    if not len(sessions):
        return []
    return _explanations(plan.explainer, _transform(plan.front, sessions), sessions,
                         np.arange(len(sessions)))


def _decisions_and_scores(estimator, data, pos_label):
    """:func:`predict_anomaly` and :func:`anomaly_score`, from one scoring pass when possible
    (a detector's ``predict_and_score_samples``, a classifier's ``predict_and_proba``)."""
    cls = type(estimator)
    if (isinstance(estimator, AnomalyDetectorMixin)
            and cls.predict is AnomalyDetectorMixin.predict
            and cls.decision_function is AnomalyDetectorMixin.decision_function):
        labels, normality = estimator.predict_and_score_samples(data)
        return labels == -1, -np.asarray(normality, dtype=float)
    if hasattr(estimator, "predict_and_proba") and not is_outlier_detector(estimator):
        labels, proba = estimator.predict_and_proba(data)
        return np.asarray(labels) == pos_label, positive_proba(estimator, proba, pos_label)
    return (predict_anomaly(estimator, data, pos_label),
            anomaly_score(estimator, data, pos_label))


def score_sessions(model, sessions, *, explain=False, pos_label=1):
    """Decisions, anomaly scores and (optionally) explanations of a batch, in one pass.

    A pipeline's transforming steps (e.g. ``DrainTemplater``) run once for the
    batch; its last step then decides, scores and explains, in one pass of
    the model where it has ``predict_and_score_samples`` (detectors) or
    ``predict_and_proba`` (CLAD, SiameseClassifier, FewShotAdapter). The results are
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
    plan = _plan(model, pos_label)
    middle = _transform(plan.front, sessions)
    data = _transform(plan.back, middle)
    is_anomaly, scores = _decisions_and_scores(plan.estimator, data, pos_label)
    explanations = None
    if explain is not False and plan.explainer is not None:
        rows = np.flatnonzero(is_anomaly) if explain == "anomalies" else np.arange(len(sessions))
        explanations = _explanations(plan.explainer, middle, sessions, rows)
    return SessionScores(is_anomaly, scores, explanations)
