"""ProtoNetClassifier: episodic training over systems, adaptation from a few labelled rows."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklog.meta import ProtoNetClassifier

FAST = {"hidden": (16,), "embedding_dim": 8, "n_episodes": 30, "max_epochs": 4}


def _system(shift, n, rng):
    """Normal rows near ``shift``, anomalies near ``shift + 3`` on the first two axes."""
    y = (rng.random(n) < 0.3).astype(int)
    X = rng.normal(0, 1, (n, 6))
    X[:, :2] += shift + 3 * y[:, None]
    return X, y


@pytest.fixture(scope="module")
def systems():
    rng = np.random.default_rng(0)
    parts = [_system(shift, 200, rng) for shift in (-6, 0, 6)]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    groups = np.repeat([0, 1, 2], 200)
    target = _system(12, 300, rng)  # a system never seen in training
    return X, y, groups, target


@pytest.fixture(scope="module")
def fitted(systems):
    X, y, groups, _ = systems
    return ProtoNetClassifier(**FAST, random_state=0).fit(X, y, groups=groups)


def test_adapting_to_a_new_system_with_five_rows_per_class(systems, fitted):
    *_, (X_target, y_target) = systems
    support = np.r_[np.flatnonzero(y_target == 0)[:5], np.flatnonzero(y_target == 1)[:5]]
    test = np.setdiff1d(np.arange(len(y_target)), support)
    adapted = fitted.adapt(X_target[support], y_target[support])
    accuracy = (adapted.predict(X_target[test]) == y_target[test]).mean()
    before = (fitted.predict(X_target[test]) == y_target[test]).mean()
    assert accuracy > 0.9 and accuracy > before + 0.1
    assert fitted.n_tasks_ == 3
    assert not np.allclose(adapted.prototypes_, fitted.prototypes_)  # fitted is unchanged


def test_same_seed_same_predictions_and_joblib(systems, fitted, tmp_path):
    X, y, groups, _ = systems
    again = ProtoNetClassifier(**FAST, random_state=0).fit(X, y, groups=groups)
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    joblib.dump(fitted, tmp_path / "p.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "p.joblib").predict_proba(X),
                                  fitted.predict_proba(X))
    assert clone(fitted).get_params() == fitted.get_params()


def test_support_without_anomalies_keeps_their_training_prototype(systems, fitted):
    *_, (X_target, y_target) = systems
    normal = np.flatnonzero(y_target == 0)[:5]
    with pytest.warns(UserWarning, match="no row of class"):
        adapted = fitted.adapt(X_target[normal], y_target[normal])
    np.testing.assert_array_equal(adapted.prototypes_[1], fitted.prototypes_[1])
    with pytest.raises(ValueError, match="never seen in fit"):
        fitted.adapt(X_target[:3], [0, 1, 7])


def test_errors_on_one_class_and_on_tasks_without_two_classes(systems):
    X, y, groups, _ = systems
    with pytest.raises(ValueError, match="one class"):
        ProtoNetClassifier(**FAST).fit(X, np.zeros(len(X), dtype=int))
    one_class_groups = np.where(y == 1, 0, 1)  # every group holds one class only
    with pytest.raises(ValueError, match="two classes"):
        ProtoNetClassifier(**FAST).fit(X, y, groups=one_class_groups)


def test_grid_search(systems):
    X, y, _, _ = systems  # one system: one prototype per class can describe it
    search = GridSearchCV(ProtoNetClassifier(**FAST, random_state=0),
                          {"embedding_dim": [2, 8]}, cv=2, scoring="f1").fit(X[:200], y[:200])
    assert search.best_score_ > 0.8
