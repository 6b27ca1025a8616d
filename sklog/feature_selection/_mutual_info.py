"""Top-k features by mutual information and random-forest importance, ranked together."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, _fit_context
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectorMixin, mutual_info_classif
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class MutualInfoSelector(SelectorMixin, BaseEstimator):
    """Keep the ``k`` features ranked best by mutual information and forest importance.

    Each feature gets two ranks from the training data: by its mutual
    information with the label (:func:`~sklearn.feature_selection.mutual_info_classif`)
    and by its impurity importance in a random forest. The features with the
    best weighted mean rank are kept; ties go to the earlier column. Mutual
    information sees each feature alone, the forest sees interactions, so the
    two together pick features neither would alone (Sharma & Yelleti's
    selection for cross-system transfer). Only ``fit``'s rows are used: inside
    a pipeline, cross-validation or ``GridSearchCV``, the test rows never are.

    Parameters
    ----------
    k : int >= 1 or "all", default=200
        Features kept. More than the data has keeps them all, with a warning.
    mi_weight, forest_weight : float >= 0, default=0.5
        Weights of the two ranks (they need not sum to 1; both 0 is refused).
    n_estimators : int >= 1, default=100
        Trees of the forest.
    n_neighbors : int >= 1, default=3
        Neighbours of the mutual-information estimate of continuous features.
    discrete_features : "auto", bool or array-like, default="auto"
        As in :func:`~sklearn.feature_selection.mutual_info_classif`.
    random_state : int, RandomState instance or None, default=None
        Seeds the mutual-information noise and the forest.
    n_jobs : int or None, default=None
        Jobs of the forest and of the mutual-information estimate.

    Attributes
    ----------
    mutual_info_ : ndarray of shape (n_features_in_,)
        Mutual information of each feature with the label, in nats.
    forest_importances_ : ndarray of shape (n_features_in_,)
        Impurity importance of each feature in the forest.
    scores_ : ndarray of shape (n_features_in_,)
        Weighted mean rank (1 = best on both); lower is better.
    ranking_ : ndarray of shape (n_features_in_,)
        Position of each feature in the combined order (1 = kept first).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` has string column names.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklog.feature_selection import MutualInfoSelector
    >>> X, y = make_classification(n_samples=300, n_features=20, n_informative=2,
    ...                            n_redundant=0, class_sep=2.0, shuffle=False, random_state=0)
    >>> selector = MutualInfoSelector(k=2, n_estimators=50, random_state=0).fit(X, y)
    >>> selector.get_support(indices=True).tolist()  # the two informative columns
    [0, 1]
    """

    _parameter_constraints = {
        "k": [Interval(Integral, 1, None, closed="left"), StrOptions({"all"})],
        "mi_weight": [Interval(Real, 0, None, closed="left")],
        "forest_weight": [Interval(Real, 0, None, closed="left")],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "discrete_features": [StrOptions({"auto"}), "boolean", "array-like"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(self, k=200, *, mi_weight=0.5, forest_weight=0.5, n_estimators=100,
                 n_neighbors=3, discrete_features="auto", random_state=None, n_jobs=None):
        self.k = k
        self.mi_weight = mi_weight
        self.forest_weight = forest_weight
        self.n_estimators = n_estimators
        self.n_neighbors = n_neighbors
        self.discrete_features = discrete_features
        self.random_state = random_state
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Rank every feature on ``(X, y)`` and keep the best ``k``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels; at least two classes.

        Returns
        -------
        self : MutualInfoSelector
        """
        X, y = validate_data(self, X, y, accept_sparse="csc", dtype=np.float64)
        check_classification_targets(y)
        if np.unique(y).size < 2:
            raise ValueError("MutualInfoSelector needs at least two classes in y to rank "
                             "features by what they tell about the label; got one class.")
        if self.mi_weight == 0 and self.forest_weight == 0:
            raise ValueError("mi_weight and forest_weight are both 0: no rank to select by.")
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self.mutual_info_ = mutual_info_classif(
            X, y, discrete_features=self.discrete_features, n_neighbors=self.n_neighbors,
            random_state=seed, n_jobs=self.n_jobs)
        forest = RandomForestClassifier(n_estimators=self.n_estimators, random_state=seed,
                                        n_jobs=self.n_jobs).fit(X, y)
        self.forest_importances_ = forest.feature_importances_
        total = self.mi_weight + self.forest_weight
        self.scores_ = (self.mi_weight * rankdata(-self.mutual_info_)
                        + self.forest_weight * rankdata(-self.forest_importances_)) / total
        order = np.argsort(self.scores_, kind="stable")
        self.ranking_ = np.empty(len(order), dtype=np.int64)
        self.ranking_[order] = np.arange(1, len(order) + 1)
        if self.k != "all" and self.k > X.shape[1]:
            warnings.warn(f"k={self.k} is more than the {X.shape[1]} features: all are kept.",
                          UserWarning, stacklevel=2)
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "ranking_")
        k = len(self.ranking_) if self.k == "all" else min(self.k, len(self.ranking_))
        return self.ranking_ <= k

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.required = True
        return tags
