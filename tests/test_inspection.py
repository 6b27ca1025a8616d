"""sklog.inspection: one pass gives what predict_anomaly, anomaly_score and explain give."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklog.baselines import PCADetector
from sklog.datasets import load_hdfs_sample
from sklog.inspection import explain, score_sessions
from sklog.methods import METHODS
from sklog.metrics import anomaly_score, predict_anomaly
from sklog.preprocessing import DrainTemplater

#: settings that fit in seconds on CPU, per method with a slow default
TINY = {
    "alogscan": dict(embedding_dim=4, channels=4, max_epochs=2),
    "siamese": dict(embedding_dim=4, lstm_units=(4,), dense_units=(8,), max_epochs=2),
}


@pytest.fixture(scope="module")
def hdfs():
    """160 raw HDFS blocks (30 anomalous) for fitting, 80 others (10 anomalous) to score."""
    X, y = load_hdfs_sample(return_X_y=True)
    rng = np.random.RandomState(0)
    normal, anomalous = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    fit = np.concatenate([rng.choice(normal, 130, replace=False), anomalous[:30]])
    rest = np.setdiff1d(normal, fit)
    score = np.concatenate([rng.choice(rest, 70, replace=False), anomalous[30:40]])
    return [X[i] for i in fit], y[fit], [X[i] for i in score]


@pytest.fixture(scope="module", params=list(METHODS))
def fitted(request, hdfs):
    """Every registered method, fitted in a DrainTemplater pipeline."""
    X, y, X_new = hdfs
    method = METHODS[request.param]
    model = method.build_pipeline(log_format="HDFS", random_state=0,
                                  **TINY.get(method.name, {}))
    if method.kind == "detector":
        model.fit([s for s, label in zip(X, y, strict=True) if label == 0])
    else:
        model.fit(X, y)
    return model, X_new


def _assert_same_explanations(got, expected):
    assert (got is None) == (expected is None)
    if expected is None:
        return
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_array_equal(a, b)


def test_one_pass_equals_separate_calls(fitted):
    model, X = fitted
    result = score_sessions(model, X, explain=True)
    np.testing.assert_array_equal(result.is_anomaly, predict_anomaly(model, X))
    np.testing.assert_array_equal(result.scores, anomaly_score(model, X))
    assert result.is_anomaly.dtype == bool
    _assert_same_explanations(result.explanations, explain(model, X))
    # the detectors and the Siamese classifier explain; the make_* pipelines cannot
    assert (result.explanations is not None) == hasattr(model[-1], "explain")


def test_anomalies_only_explains_what_detect_printed(fitted):
    """``explain="anomalies"``: what ``sklog detect`` computed, explaining the flagged subset."""
    model, X = fitted
    is_anomaly, scores, explanations = score_sessions(model, X, explain="anomalies")
    flagged = np.flatnonzero(is_anomaly)
    expected = explain(model, [X[i] for i in flagged])
    if expected is None:
        assert explanations is None
    else:
        assert len(flagged) and not is_anomaly.all()  # both cases occur
        assert all(explanations[i] is None for i in np.flatnonzero(~is_anomaly))
        _assert_same_explanations([explanations[i] for i in flagged], expected)
    assert score_sessions(model, X).explanations is None


class _Counter:
    """An identity step that counts the batches it transforms."""

    def __init__(self):
        self.calls = 0

    def __call__(self, X):
        self.calls += 1
        return X


def test_transforming_steps_run_once_per_batch(hdfs):
    X, y, X_new = hdfs
    counter = _Counter()
    model = make_pipeline(FunctionTransformer(counter), DrainTemplater(log_format="HDFS"),
                          PCADetector()).fit([s for s, lab in zip(X, y, strict=True) if not lab])
    counter.calls = 0
    result = score_sessions(model, X_new, explain=True)
    assert counter.calls == 1
    separately = (predict_anomaly(model, X_new), anomaly_score(model, X_new),
                  explain(model, X_new))
    assert counter.calls == 4
    np.testing.assert_array_equal(result.is_anomaly, separately[0])
    np.testing.assert_array_equal(result.scores, separately[1])


class _OddSessionsAreAnomalies(PCADetector):
    """A detector whose own ``predict`` is not the mixin's threshold rule."""

    def predict(self, X):
        return np.where(np.arange(len(X)) % 2 == 1, -1, 1)


def test_an_overridden_predict_is_respected(hdfs):
    X, y, X_new = hdfs
    model = make_pipeline(DrainTemplater(log_format="HDFS"), _OddSessionsAreAnomalies())
    model.fit([s for s, label in zip(X, y, strict=True) if label == 0])
    result = score_sessions(model, X_new[:6])
    assert result.is_anomaly.tolist() == [False, True] * 3
    np.testing.assert_array_equal(result.scores, anomaly_score(model, X_new[:6]))


def test_a_plain_estimator_and_one_without_explain():
    from sklearn.ensemble import IsolationForest

    X = [[0.0], [0.1], [0.2], [0.15], [9.0]]
    forest = IsolationForest(random_state=0).fit(X)
    result = score_sessions(forest, X, explain=True)
    np.testing.assert_array_equal(result.is_anomaly, predict_anomaly(forest, X))
    np.testing.assert_array_equal(result.scores, anomaly_score(forest, X))
    assert result.explanations is None and explain(forest, X) is None
    assert result.is_anomaly[-1] and not result.is_anomaly[:4].any()


def test_weights_that_do_not_match_the_lines_are_dropped():
    class HalfExplainer(PCADetector):
        def explain(self, X):
            return [np.ones(max(len(s) // 2, 1)) for s in X]

    sessions = [["a", "b"], ["a"], ["a", "b", "c", "d"]]
    model = HalfExplainer().fit(sessions * 5)
    weights = explain(model, sessions)
    assert weights[0] is None and weights[2] is None
    np.testing.assert_array_equal(weights[1], [1.0])


def test_bad_explain_option():
    model = PCADetector().fit([["a", "b"]] * 5)
    with pytest.raises(ValueError, match="explain must be False, True or 'anomalies'"):
        score_sessions(model, [["a"]], explain="all")


def test_detectors_predict_and_score_in_one_pass(toy_template_sessions):
    from sklog.baselines import PCADetector

    X, y = toy_template_sessions
    det = PCADetector().fit([s for s, label in zip(X, y, strict=True) if label == 0])
    labels, scores = det.predict_and_score_samples(X)
    np.testing.assert_array_equal(labels, det.predict(X))
    np.testing.assert_array_equal(scores, det.score_samples(X))
    assert (labels[np.asarray(y) == 1] == -1).all()
