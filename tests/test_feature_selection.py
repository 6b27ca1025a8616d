"""MutualInfoSelector: top-k features by mutual-information and forest-importance ranks."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklog.feature_selection import MutualInfoSelector


@pytest.fixture(scope="module")
def informative():
    """Columns 0-2 carry the label, the other 27 are noise."""
    return make_classification(n_samples=300, n_features=30, n_informative=3, n_redundant=0,
                               class_sep=2.0, shuffle=False, random_state=0)


def test_keeps_the_informative_columns(informative):
    X, y = informative
    selector = MutualInfoSelector(k=3, n_estimators=50, random_state=0).fit(X, y)
    assert selector.get_support(indices=True).tolist() == [0, 1, 2]
    assert selector.transform(X).shape == (300, 3)
    assert sorted(selector.ranking_[:3]) == [1, 2, 3]
    assert selector.mutual_info_[:3].mean() > 5 * selector.mutual_info_[3:].mean()


def test_each_rank_alone_and_together(informative):
    X, y = informative
    mi_only = MutualInfoSelector(k=3, forest_weight=0, random_state=0).fit(X, y)
    forest_only = MutualInfoSelector(k=3, mi_weight=0, n_estimators=50, random_state=0).fit(X, y)
    np.testing.assert_array_equal(np.argsort(mi_only.scores_, kind="stable")[:3],
                                  np.argsort(-mi_only.mutual_info_, kind="stable")[:3])
    np.testing.assert_array_equal(
        np.argsort(forest_only.scores_, kind="stable")[:3],
        np.argsort(-forest_only.forest_importances_, kind="stable")[:3])
    with pytest.raises(ValueError, match="both 0"):
        MutualInfoSelector(mi_weight=0, forest_weight=0).fit(X, y)


def test_same_seed_same_selection_and_sparse_input(informative):
    X, y = informative
    a = MutualInfoSelector(k=5, n_estimators=20, random_state=3).fit(X, y)
    b = MutualInfoSelector(k=5, n_estimators=20, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    sparse = MutualInfoSelector(k=5, n_estimators=20, random_state=3).fit(sp.csr_matrix(X), y)
    assert sparse.transform(sp.csr_matrix(X)).shape == (300, 5)


def test_k_larger_than_the_features_keeps_all_with_a_warning(informative):
    X, y = informative
    with pytest.warns(UserWarning, match="all are kept"):
        selector = MutualInfoSelector(k=100, n_estimators=5, random_state=0).fit(X, y)
    assert selector.get_support().all()
    assert MutualInfoSelector(k="all", n_estimators=5).fit(X, y).get_support().all()


def test_one_class_is_refused(informative):
    X, _ = informative
    with pytest.raises(ValueError, match="two classes"):
        MutualInfoSelector().fit(X, np.zeros(len(X)))


def test_grid_search_clone_and_joblib(informative, tmp_path):
    X, y = informative
    pipe = make_pipeline(MutualInfoSelector(n_estimators=10, random_state=0),
                         LogisticRegression())
    search = GridSearchCV(pipe, {"mutualinfoselector__k": [1, 3, 10]}, cv=3).fit(X, y)
    assert search.best_params_["mutualinfoselector__k"] in (3, 10)
    assert clone(pipe).get_params()["mutualinfoselector__k"] == 200
    joblib.dump(search.best_estimator_, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.predict(X), search.best_estimator_.predict(X))
