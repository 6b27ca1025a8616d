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
    # every registered method explains: detectors and Siamese themselves, the
    # make_* pipelines through their classifier's per-template attribution
    assert result.explanations is not None
    assert all(w is not None and len(w) == len(s)
               for w, s in zip(result.explanations, X, strict=True))


def test_anomalies_only_explains_what_detect_printed(fitted):
    """``explain="anomalies"``: what ``sklog detect`` computed, explaining the flagged subset."""
    model, X = fitted
    is_anomaly, scores, explanations = score_sessions(model, X, explain="anomalies")
    flagged = np.flatnonzero(is_anomaly)
    expected = explain(model, [X[i] for i in flagged])
    if expected is None:
        assert explanations is None
    else:
        assert not is_anomaly.all()
        assert all(explanations[i] is None for i in np.flatnonzero(~is_anomaly))
        _assert_same_explanations([explanations[i] for i in flagged], expected)
    assert score_sessions(model, X).explanations is None
    # both cases occur, except for gradient boosting, which flags none of these 80
    assert len(flagged) or model.steps[-1][0] == "histgradientboostingclassifier"


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


# -- count-based classifiers: per-template attributions mapped to lines (issue 14 item 4) -----

COUNT_CLASSIFIERS = ["logistic", "decision_tree", "linear_svc", "gradient_boosting"]


@pytest.mark.parametrize("name", COUNT_CLASSIFIERS)
def test_count_classifiers_rank_the_error_line_first(name, hdfs_like_blocks):
    X, y = hdfs_like_blocks()
    model = METHODS[name].build_pipeline(log_format="HDFS", random_state=0).fit(X, y)
    X_new, y_new = hdfs_like_blocks(10, 10, seed=1)
    result = score_sessions(model, X_new, explain="anomalies")
    np.testing.assert_array_equal(result.is_anomaly, y_new == 1)
    for session, weights in zip(X_new[10:], result.explanations[10:], strict=True):
        assert int(np.argmax(weights)) == 2 and " ERROR " in session[2]
        assert weights[2] > 0 and np.all(np.delete(weights, 2) < weights[2])
    assert all(w is None for w in result.explanations[:10])
    _assert_same_explanations(explain(model, X_new[10:]), result.explanations[10:])


def _classifier_input(model, sessions):
    """What the classifier of a count pipeline reads, dense."""
    features = model[:-1].transform(sessions)
    return features.toarray() if hasattr(features, "toarray") else features


@pytest.mark.parametrize("name", ["logistic", "linear_svc"])
def test_linear_line_weights_sum_to_decision_minus_intercept(hdfs, name):
    X, y, X_new = hdfs
    model = METHODS[name].build_pipeline(log_format="HDFS", random_state=0).fit(X, y)
    weights = explain(model, X_new)
    sums = np.array([w.sum() for w in weights])
    expected = model.decision_function(X_new) - model[-1].intercept_[0]
    np.testing.assert_allclose(sums, expected, rtol=1e-10, atol=1e-10)
    # every line of a template gets the same share of its template's contribution
    templates = model[0].transform(X_new)
    for session, w in zip(templates[:20], weights[:20], strict=True):
        for template in set(session):
            same = [w[k] for k, t in enumerate(session) if t == template]
            np.testing.assert_allclose(same, same[0])


@pytest.mark.parametrize("name", ["decision_tree", "gradient_boosting"])
def test_tree_path_contributions_are_exact(hdfs, name):
    """Saabas contributions over all templates add up to the score minus the root value."""
    from sklog.inspection._explain import _plan

    X, y, X_new = hdfs
    model = METHODS[name].build_pipeline(log_format="HDFS", random_state=0).fit(X, y)
    features = _classifier_input(model, X_new)
    contributions, bias = _plan(model, 1).explainer.attribution(features)
    estimator = model[-1]
    if name == "decision_tree":
        score = estimator.predict_proba(features)[:, 1]
        assert bias == pytest.approx(np.mean(y))  # the root's anomaly share
        assert estimator.get_depth() >= 2
    else:
        score = estimator.decision_function(features)
        assert estimator.n_iter_ >= 10
    np.testing.assert_allclose(contributions.sum(axis=1) + bias, score, rtol=1e-9, atol=1e-9)
    # the line weights are the contributions of the templates present, shared per line
    weights = explain(model, X_new)
    counts = model.named_steps["templatecounter"].transform(model[0].transform(X_new))
    present = counts.toarray() > 0
    np.testing.assert_allclose([w.sum() for w in weights],
                               np.where(present, contributions, 0).sum(axis=1), atol=1e-9)


def test_pos_label_turns_the_weights_around(hdfs_like_blocks):
    X, y = hdfs_like_blocks()
    model = METHODS["logistic"].build_pipeline(log_format="HDFS", random_state=0).fit(X, y)
    towards_anomaly = explain(model, X[-3:])
    towards_normal = explain(model, X[-3:], pos_label=0)
    for a, b in zip(towards_anomaly, towards_normal, strict=True):
        np.testing.assert_allclose(a, -b)
    assert explain(model, X[-3:], pos_label="nope") is None


def test_selected_template_columns_map_back_to_lines(toy_template_sessions):
    from sklearn.feature_selection import SelectKBest, chi2
    from sklearn.linear_model import LogisticRegression

    from sklog.feature_extraction import TemplateCounter

    X, y = toy_template_sessions
    model = make_pipeline(TemplateCounter(), SelectKBest(chi2, k=2),
                          LogisticRegression()).fit(X, y)
    weights = explain(model, [["open <*>", "error <*>", "close <*>"]])[0]
    assert int(np.argmax(weights)) == 1 and weights[1] > 0
    kept = set(model[1].get_feature_names_out(model[0].get_feature_names_out()))
    assert "error <*>" in kept and len(kept) == 2
    # templates the selector dropped reach the classifier with no weight
    dropped = [k for k, t in enumerate(["open <*>", "error <*>", "close <*>"]) if t not in kept]
    assert all(weights[k] == 0 for k in dropped)


def test_classifiers_without_an_attribution_are_not_explained(toy_template_sessions):
    from sklearn.neighbors import KNeighborsClassifier

    from sklog.feature_extraction import TemplateCounter

    X, y = toy_template_sessions
    model = make_pipeline(TemplateCounter(), KNeighborsClassifier(3)).fit(X, y)
    assert explain(model, X) is None
    result = score_sessions(model, X, explain=True)
    assert result.explanations is None and result.is_anomaly[-10:].all()


def test_byte_models_are_explained_by_the_score_each_line_adds():
    from sklearn.linear_model import LogisticRegression

    from sklog.preprocessing import ByteWindower

    X = [["open", "read", "close"]] * 20 + [["open", "ERROR disk", "close"]] * 20
    model = make_pipeline(ByteWindower(codec=None, max_bytes=64),
                          LogisticRegression(max_iter=1000)).fit(X, [0] * 20 + [1] * 20)
    session = ["open", "ERROR disk", "close"]
    weights = explain(model, [session, []])
    full = anomaly_score(model, [session])[0]
    without = anomaly_score(model, [session[:j] + session[j + 1:] for j in range(3)])
    np.testing.assert_allclose(weights[0], full - without)
    assert weights[1].shape == (0,)
    result = score_sessions(model, [session], explain=True)
    np.testing.assert_array_equal(result.explanations[0], weights[0])
