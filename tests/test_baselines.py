"""Classic baselines: loglizer parity, threshold semantics, explanations, real HDFS data."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone, is_classifier, is_outlier_detector
from sklearn.exceptions import ConvergenceWarning

from sklog.baselines import (
    InvariantsMiner,
    LogClustering,
    PCADetector,
    _common,
    make_decision_tree,
    make_hist_gradient_boosting,
    make_linear_svc,
    make_logistic_regression,
    q_statistic_threshold,
)
from sklog.metrics import evaluate

DETECTORS = [PCADetector(), InvariantsMiner(), LogClustering()]
FACTORIES = [make_logistic_regression, make_decision_tree, make_linear_svc,
             make_hist_gradient_boosting]


def _normal_sessions(n=60, seed=0):
    """Normal sessions: open, a few reads, close; sometimes a retried write."""
    rng = np.random.RandomState(seed)
    sessions = []
    for _ in range(n):
        body = ["read <*>"] * rng.randint(1, 4)
        if rng.rand() < 0.3:
            body += ["write <*>", "write ok <*>"]
        sessions.append(["open <*>", *body, "close <*>"])
    return sessions


ANOMALIES = [
    ["open <*>", "read <*>", "error <*>", "close <*>"],  # unseen template
    ["open <*>", "read <*>", "read <*>"],  # close missing
    ["open <*>", "write <*>", "write <*>", "write <*>", "close <*>"],  # writes never confirmed
]


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: type(d).__name__)
def test_detectors_flag_toy_anomalies(detector):
    train = _normal_sessions()
    model = clone(detector).fit(train)
    assert is_outlier_detector(model)
    assert (model.predict(train) == 1).mean() >= 0.95
    assert model.predict(ANOMALIES[:1]).tolist() == [-1]
    # every anomaly scores below every training session's median
    assert model.score_samples(ANOMALIES).max() < np.median(model.score_samples(train))


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: type(d).__name__)
def test_threshold_semantics(detector):
    train = _normal_sessions(80, seed=1)
    test = train[:10] + ANOMALIES
    model = clone(detector).fit(train)
    scores = model.score_samples(test)
    np.testing.assert_allclose(model.decision_function(test), scores - model.offset_)
    np.testing.assert_array_equal(model.predict(test),
                                  np.where(scores - model.offset_ < 0, -1, 1))
    fitted = clone(detector).set_params(contamination=0.1).fit(train)
    train_scores = fitted.score_samples(train)
    assert fitted.offset_ == pytest.approx(np.quantile(train_scores, 0.1))
    assert (fitted.predict(train) == -1).mean() <= 0.1 + 1e-9


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: type(d).__name__)
def test_explain_points_at_the_unseen_template(detector):
    model = clone(detector).fit(_normal_sessions())
    sessions = [*ANOMALIES, [], ["open <*>", "read <*>", "close <*>"]]
    explained = model.explain(sessions)
    assert len(explained) == len(sessions)
    for values, session in zip(explained, sessions, strict=True):
        assert values.shape == (len(session),)
        assert np.isfinite(values).all() and (values >= 0).all()
    assert int(np.argmax(explained[0])) == 2  # the "error" line


def test_pca_explain_adds_up_to_the_spe():
    model = PCADetector().fit(_normal_sessions())
    session = ["open <*>", "error <*>", "error <*>", "read <*>", "close <*>", "write <*>"]
    spe = -model.score_samples([session])[0]
    residual2 = model._contributions(model.counter_.transform([session]).toarray())[0]
    assert residual2.sum() == pytest.approx(spe)
    present = model.counter_.transform([session]).toarray()[0] > 0
    assert model.explain([session])[0].sum() == pytest.approx(residual2[present].sum())


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: type(d).__name__)
def test_joblib_round_trip_and_empty_session(detector):
    model = clone(detector).fit(_normal_sessions())
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    test = [*ANOMALIES, [], ["open <*>", "close <*>"]]
    np.testing.assert_array_equal(loaded.score_samples(test), model.score_samples(test))
    np.testing.assert_array_equal(loaded.predict(test), model.predict(test))
    assert np.isfinite(model.score_samples([[]])).all()


def _loglizer_pca(X, n_components=0.95, c_alpha=3.2905):
    """loglizer's PCA (tf-idf + zero-mean FeatureExtractor, then models/PCA.py), dense."""
    n, d = X.shape
    idf = np.log(n / (np.sum(X > 0, axis=0) + 1e-8))
    Xw = X * idf
    mean = Xw.mean(axis=0)
    Xc = Xw - mean
    U, sigma, _ = np.linalg.svd(Xc.T @ Xc / n)
    k = int(np.argmax(np.cumsum(sigma) / sigma.sum() >= n_components)) + 1
    P = U[:, :k]
    C = np.identity(d) - P @ P.T
    phi = [np.sum(sigma[k:] ** (i + 1)) for i in range(3)]
    h0 = 1.0 - 2 * phi[0] * phi[2] / (3.0 * phi[1] * phi[1])
    threshold = phi[0] * np.power(c_alpha * np.sqrt(2 * phi[1] * h0 * h0) / phi[0] + 1.0
                                  + phi[1] * h0 * (h0 - 1) / (phi[0] * phi[0]), 1.0 / h0)
    return lambda Z: np.sum(((Z * idf - mean) @ C.T) ** 2, axis=1), threshold, k


def test_pca_matches_loglizer():
    rng = np.random.RandomState(0)
    base = rng.poisson([3, 2, 1, 1, 0.5, 0.3, 0.2, 0.1], size=(60, 8))
    counts = base[rng.randint(0, 60, size=300)]  # many duplicate sessions
    counts[:, 1] = counts[:, 0]  # a correlated pair
    sessions = [[f"e{j}" for j in range(8) for _ in range(c[j])] for c in counts]
    model = PCADetector().fit(sessions)
    spe, threshold, k = _loglizer_pca(model.counter_.transform(sessions).toarray())
    assert model.n_components_ == k
    assert model.threshold_ == pytest.approx(threshold, rel=1e-4)  # c_alpha to 4 decimals
    test = sessions[:20] + [["e1", "e1", "e1", "e1", "e0"], ["e2", "zzz"]]
    test_counts = model.counter_.transform(test).toarray()
    np.testing.assert_allclose(-model.score_samples(test), spe(test_counts), rtol=1e-6,
                               atol=1e-9)


def test_q_statistic_uses_the_two_sided_loglizer_table():
    lam = np.array([0.5, 0.2, 0.1, 0.05])
    phi1, phi2, phi3 = (np.sum(lam ** i) for i in (1, 2, 3))
    h0 = 1 - 2 * phi1 * phi3 / (3 * phi2**2)
    expected = phi1 * (3.2905 * np.sqrt(2 * phi2 * h0**2) / phi1 + 1
                       + phi2 * h0 * (h0 - 1) / phi1**2) ** (1 / h0)
    assert q_statistic_threshold(lam, 0.999) == pytest.approx(expected, rel=1e-4)
    assert q_statistic_threshold([], 0.999) == 0.0
    assert q_statistic_threshold(lam, 0.99) < q_statistic_threshold(lam, 0.999)


def test_invariants_miner_finds_the_open_close_law():
    model = InvariantsMiner().fit(_normal_sessions())
    names = model.counter_.get_feature_names_out()
    laws = {frozenset(names[list(cols)]): tuple(np.abs(theta))
            for cols, theta in model.invariants_}
    assert laws[frozenset({"open <*>", "close <*>"})] == (1, 1)
    assert laws[frozenset({"write <*>", "write ok <*>"})] == (1, 1)
    assert laws[frozenset({"<OOV>"})] == (1,)  # an unseen template must never appear
    # the invariant space dimension bounds the search
    assert len(model.invariants_) <= max(model.invariant_space_dim_, 1) + 1
    assert model.predict(ANOMALIES).tolist() == [-1, -1, -1]


def test_invariants_single_event_rules():
    train = _normal_sessions(100) + [["open <*>", "rare <*>", "close <*>"]]
    strict = InvariantsMiner(single_events="unseen").fit(train)
    uniform = InvariantsMiner(single_events="percentage").fit(train)
    rare = [["open <*>", "read <*>", "rare <*>", "close <*>"]]
    assert uniform.predict(rare).tolist() == [-1]
    rare_col = list(strict.counter_.get_feature_names_out()).index("rare <*>")
    assert (rare_col,) not in dict(strict.invariants_)
    assert (rare_col,) in dict(uniform.invariants_)


def test_invariants_search_is_capped_on_openssh_windows(monkeypatch):
    """23 OpenSSH templates hold few invariants: loglizer's search took minutes."""
    from sklog.datasets import load_loghub_2k
    from sklog.preprocessing import DrainTemplater, windows_from_lines

    windows, _ = windows_from_lines(load_loghub_2k("OpenSSH").lines, size=40)
    X = DrainTemplater(log_format="OpenSSH").fit_transform(windows)
    checked = []
    validity = InvariantsMiner._validity
    monkeypatch.setattr(InvariantsMiner, "_validity",
                        lambda self, candidates: (checked.append(len(candidates)),
                                                  validity(self, candidates))[1])
    with pytest.warns(ConvergenceWarning, match="max_candidates=50000"):
        model = InvariantsMiner().fit(X)
    assert model.n_templates_ >= 23
    # the search stops at the cap; the uncapped one would build millions of sets
    assert model.n_candidates_ == 50_000 >= sum(checked)
    assert len(model.invariants_) < model.invariant_space_dim_
    assert (model.predict(X) == 1).mean() >= 0.9


def test_invariants_cap_keeps_the_search_when_it_is_not_reached():
    train = _normal_sessions(100)
    uncapped = InvariantsMiner(max_candidates=None).fit(train)
    capped = InvariantsMiner(max_candidates=uncapped.n_candidates_).fit(train)
    assert uncapped.n_candidates_ > 1
    np.testing.assert_array_equal(capped.invariant_matrix_, uncapped.invariant_matrix_)
    with pytest.warns(ConvergenceWarning, match="sets of 2 templates"):
        short = InvariantsMiner(max_candidates=1).fit(train)
    assert short.n_candidates_ == 1 and len(short.invariants_) < len(uncapped.invariants_)


def test_log_clustering_groups_distinct_behaviours():
    train = [["a", "b"]] * 30 + [["c", "d", "d"]] * 20 + [["a", "b", "b"]] * 5
    model = LogClustering().fit(train)
    assert len(model.cluster_centers_) == 2  # a-b sessions merge under cos distance 0.3
    assert sorted(model.cluster_sizes_.tolist()) == [20, 35]
    online = LogClustering(n_bootstrap_samples=1).fit(train)
    test = [["a", "b"], ["c", "d"], ["a", "a", "a", "a", "c"], ["x"]]
    np.testing.assert_array_equal(online.predict(test), model.predict(test))
    assert model.predict(test).tolist() == [1, 1, -1, -1]


def test_unique_count_rows_in_chunks(monkeypatch):
    rng = np.random.RandomState(0)
    dense = rng.randint(0, 2, size=(500, 4)).astype(float)
    monkeypatch.setattr(_common, "_CHUNK_ELEMENTS", 64)  # 16 rows per chunk
    rows, inverse, weights = _common.unique_count_rows(sp.csr_matrix(dense))
    np.testing.assert_array_equal(rows[inverse], dense)
    assert len(rows) == len(np.unique(dense, axis=0)) and weights.sum() == 500


def test_parameters_are_validated_in_fit():
    with pytest.raises(ValueError, match="n_components"):
        PCADetector(n_components=0.0).fit(_normal_sessions())
    with pytest.raises(ValueError, match="contamination"):
        LogClustering(contamination=0.9).fit(_normal_sessions())
    with pytest.raises(ValueError, match="scales"):
        InvariantsMiner(scales=(0, 1)).fit(_normal_sessions())


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_supervised_factories(factory, toy_template_sessions):
    X, y = toy_template_sessions
    tiny = {"min_samples_leaf": 2} if factory is make_hist_gradient_boosting else {}
    model = factory(random_state=0, **tiny)
    assert is_classifier(model)
    assert model.steps[-1][1].random_state == 0
    model.fit(X, y)
    result = evaluate(model, X + [["open <*>", "error <*>", "read <*>"]], y + [1])
    assert result["f1"] == 1.0 and result["pr_auc"] == 1.0


def test_factories_take_overrides():
    assert make_logistic_regression(C=3.0).steps[-1][1].C == 3.0
    assert make_decision_tree(max_depth=2).steps[-1][1].max_depth == 2
    assert make_linear_svc(tfidf=False).steps[0][1].tfidf is False


def _hdfs_deeplog(shared_data, n_train=1500, n_test_normal=900, n_test_abnormal=100):
    from sklog.datasets import read_id_sequences, read_template_table

    hdfs = shared_data / "hdfs"
    templates = read_template_table(hdfs / "HDFS_templates.csv")
    normal = read_id_sequences(hdfs / "deeplog_normal.txt.gz", templates)
    abnormal = read_id_sequences(hdfs / "deeplog_abnormal.txt.gz", templates)
    rng = np.random.RandomState(0)
    order = rng.permutation(len(normal))
    train = [normal[i] for i in order[:n_train]]
    test_normal = [normal[i] for i in order[n_train : n_train + n_test_normal]]
    test_abnormal = [abnormal[i] for i in rng.choice(len(abnormal), n_test_abnormal, False)]
    y = np.array([0] * len(test_normal) + [1] * len(test_abnormal))
    return train, test_normal + test_abnormal, y


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: type(d).__name__)
def test_detectors_separate_real_hdfs_anomalies(shared_data, detector):
    train, X_test, y_test = _hdfs_deeplog(shared_data)
    model = clone(detector).fit(train)
    result = evaluate(model, X_test, y_test)
    assert result["pr_auc"] > 0.6  # anomaly ratio 0.1
    assert result["roc_auc"] > 0.9
    assert result["f1"] > 0.5
