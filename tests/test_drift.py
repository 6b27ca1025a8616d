"""DriftMonitor, LogRobust-style synthetic evolution and embedding plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from sklog.datasets import evolve_sessions  # noqa: E402
from sklog.drift import DriftMonitor  # noqa: E402
from sklog.plotting import plot_embedding  # noqa: E402


@pytest.fixture()
def embeddings():
    rng = np.random.RandomState(0)
    centres = rng.normal(scale=5, size=(3, 4))
    Z = centres[rng.randint(3, size=400)] + rng.normal(size=(400, 4))
    return Z, centres, rng


def test_fitness_falls_as_data_drifts(embeddings):
    Z, centres, rng = embeddings
    monitor = DriftMonitor(n_components=3, random_state=0).fit(Z)
    fresh = centres[rng.randint(3, size=200)] + rng.normal(size=(200, 4))
    scores = [monitor.fitness_score(fresh + shift) for shift in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert all(b < a for a, b in zip(scores, scores[1:], strict=False))
    assert not monitor.needs_retraining(fresh)
    assert monitor.needs_retraining(fresh + 2.0)
    assert monitor.score_samples(fresh).shape == (200,)
    assert monitor.score(fresh) == pytest.approx(monitor.fitness_score(fresh))


def test_threshold_is_calibrated_out_of_sample(embeddings):
    Z, centres, _ = embeddings
    monitor = DriftMonitor(n_components=3, n_bootstrap=50, random_state=0).fit(Z)
    assert monitor.bootstrap_fitness_.shape == (50,)
    # the bootstrap batches come from the held-out part: less likely than the fitted part
    assert monitor.bootstrap_fitness_.max() < monitor.fitness_score(Z)
    # so fresh in-distribution batches of the held-out size (80) seldom ask for retraining;
    # a threshold calibrated in-sample would flag most of them
    rng = np.random.RandomState(1)
    alarms = [monitor.needs_retraining(centres[rng.randint(3, size=80)]
                                       + rng.normal(size=(80, 4))) for _ in range(100)]
    assert np.mean(alarms) <= 0.05
    in_sample = DriftMonitor(n_components=3, n_bootstrap=50, holdout_fraction=0.001,
                             random_state=0).fit(Z)
    assert in_sample.threshold_ > monitor.threshold_ + 0.5
    again = DriftMonitor(n_components=3, n_bootstrap=50, random_state=0).fit(Z)
    assert again.threshold_ == monitor.threshold_


def test_monitor_embeds_with_any_transformer_without_refitting_it(embeddings):
    Z, _, _ = embeddings
    pca = PCA(n_components=2).fit(Z[:100])
    components = pca.components_.copy()
    monitor = DriftMonitor(pca, n_components=2, random_state=0).fit(Z[100:])
    np.testing.assert_array_equal(pca.components_, components)  # used as given
    assert monitor.n_features_in_ == 2
    np.testing.assert_allclose(monitor.score_samples(Z[:10]),
                               monitor.mixture_.score_samples(pca.transform(Z[:10])))
    # the number of components is capped by the sessions the mixture is fitted on
    small = DriftMonitor(n_components=50, random_state=0).fit(Z[:30])
    assert small.mixture_.n_components == 24  # 30 sessions less the 20 % held out


def test_monitor_with_siamese_embeddings(toy_template_sessions):
    from sklog import SiameseClassifier

    X, y = toy_template_sessions
    clf = SiameseClassifier(embedding_dim=4, lstm_units=(4,), dense_units=(4,), max_epochs=2,
                            validation_fraction=0.0, classifier=LogisticRegression(),
                            random_state=0).fit(X, y)
    monitor = DriftMonitor(clf, n_components=2, random_state=0).fit(X)
    unseen = [["never seen <*>"] * 6 for _ in range(20)]
    assert monitor.fitness_score(unseen) < monitor.fitness_score(X)
    assert monitor.needs_retraining(unseen)


def test_evolve_sessions_changes_the_requested_share():
    X = [[f"e{j}" for j in range(6)] for _ in range(50)]
    evolved, changed = evolve_sessions(X, 0.2, random_state=0)
    assert changed.sum() == 10
    assert all(evolved[i] != X[i] for i in np.flatnonzero(changed))
    assert all(evolved[i] == X[i] for i in np.flatnonzero(~changed))
    assert X[0] == [f"e{j}" for j in range(6)]  # input untouched
    again, _ = evolve_sessions(X, 0.2, random_state=0)
    assert again == evolved
    none, nothing = evolve_sessions(X, 0.0, random_state=0)
    assert none == X and not nothing.any()


def test_evolve_sessions_is_nested_across_ratios():
    X = [[f"e{j}" for j in range(5)] for _ in range(40)]
    small, c_small = evolve_sessions(X, 0.1, random_state=3)
    large, c_large = evolve_sessions(X, 0.3, random_state=3)
    assert (c_small <= c_large).all()
    assert all(small[i] == large[i] for i in np.flatnonzero(c_small))


@pytest.mark.parametrize("op, check", [
    ("duplicate", lambda old, new: len(new) == len(old) + 1),
    ("remove", lambda old, new: len(new) == len(old) - 1),
    ("shuffle", lambda old, new: sorted(new) == sorted(old) and new != old),
])
def test_each_operation(op, check):
    X = [[f"e{j}" for j in range(6)] for _ in range(10)]
    evolved, changed = evolve_sessions(X, 1.0, operations=(op,), random_state=0)
    assert changed.all()
    assert all(check(old, new) for old, new in zip(X, evolved, strict=True))


def test_evolve_sessions_validates():
    with pytest.raises(ValueError, match="ratio"):
        evolve_sessions([["a"]], 1.5)
    with pytest.raises(ValueError, match="operations"):
        evolve_sessions([["a"]], 0.5, operations=("swap",))
    with pytest.raises(TypeError, match="sequence of sessions"):
        evolve_sessions("a line", 0.5)
    evolved, changed = evolve_sessions([[], ["a"]], 1.0, random_state=0)
    assert evolved == [[], ["a", "a"]] and changed.tolist() == [False, True]


def test_plot_embedding_marks_misclassified(embeddings):
    Z, _, _ = embeddings
    y = (Z[:, 0] > 0).astype(int)
    y_pred = y.copy()
    y_pred[:7] = 1 - y_pred[:7]
    ax = plot_embedding(None, Z, y, y_pred=y_pred)
    assert ax.get_title() == "PCA of embeddings (7 misclassified)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["normal", "anomaly", "misclassified"]
    ax = plot_embedding(None, Z[:60], y[:60], method="tsne")
    assert ax.get_title().startswith("t-SNE")
    with pytest.raises(ValueError, match="method"):
        plot_embedding(None, Z, y, method="mds")


def test_plot_embedding_uses_estimator(toy_template_sessions):
    from sklog import SiameseClassifier

    X, y = toy_template_sessions
    clf = SiameseClassifier(embedding_dim=4, lstm_units=(4,), dense_units=(4,), max_epochs=2,
                            validation_fraction=0.0, classifier=LogisticRegression(),
                            random_state=0).fit(X, y)
    wrong = int((clf.predict(X) != np.asarray(y)).sum())
    ax = plot_embedding(clf, X, y)
    assert ax.get_title() == f"PCA of embeddings ({wrong} misclassified)"
