"""Supervised baselines: ordinary pipelines of template counts and a scikit-learn classifier.

They are factories, not classes, so the benchmark harness and users build
exactly the same pipeline (loglizer's settings as defaults, any of them
overridable).
"""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from ..feature_extraction import TemplateCounter


def _to_dense(X):
    return X.toarray() if hasattr(X, "toarray") else X


def make_logistic_regression(random_state=None, *, tfidf=True, **kwargs):
    """``TemplateCounter`` + ``LogisticRegression`` (loglizer: ``C=100, tol=0.01``).

    Parameters
    ----------
    random_state : int, RandomState or None, default=None
    tfidf : bool, default=True
        Weight counts by idf (loglizer's supervised demos use tf-idf).
    **kwargs
        Override the classifier's parameters.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from sklog.baselines import make_logistic_regression
    >>> X = [["open", "close"]] * 5 + [["open", "error"]] * 5
    >>> model = make_logistic_regression(random_state=0).fit(X, [0] * 5 + [1] * 5)
    >>> model.predict([["open", "error"]]).tolist()
    [1]
    """
    params = {"C": 100, "tol": 0.01, "max_iter": 1000, "random_state": random_state, **kwargs}
    return make_pipeline(TemplateCounter(tfidf=tfidf), LogisticRegression(**params))


def make_decision_tree(random_state=None, *, tfidf=True, **kwargs):
    """``TemplateCounter`` + ``DecisionTreeClassifier`` (loglizer's defaults).

    Parameters
    ----------
    random_state : int, RandomState or None, default=None
    tfidf : bool, default=True
    **kwargs
        Override the classifier's parameters.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from sklog.baselines import make_decision_tree
    >>> X = [["open", "close"]] * 5 + [["open", "error"]] * 5
    >>> model = make_decision_tree(random_state=0).fit(X, [0] * 5 + [1] * 5)
    >>> model.predict([["open", "error"]]).tolist()
    [1]
    """
    params = {"random_state": random_state, **kwargs}
    return make_pipeline(TemplateCounter(tfidf=tfidf), DecisionTreeClassifier(**params))


def make_linear_svc(random_state=None, *, tfidf=True, **kwargs):
    """``TemplateCounter`` + ``LinearSVC`` (loglizer: ``C=1, tol=0.1, dual=False``).

    ``LinearSVC`` has no ``predict_proba``; :func:`sklog.metrics.anomaly_score`
    ranks with its ``decision_function``.

    Parameters
    ----------
    random_state : int, RandomState or None, default=None
    tfidf : bool, default=True
    **kwargs
        Override the classifier's parameters.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from sklog.baselines import make_linear_svc
    >>> X = [["open", "close"]] * 5 + [["open", "error"]] * 5
    >>> model = make_linear_svc(random_state=0).fit(X, [0] * 5 + [1] * 5)
    >>> model.predict([["open", "error"]]).tolist()
    [1]
    """
    params = {"C": 1.0, "tol": 0.1, "dual": False, "max_iter": 1000,
              "random_state": random_state, **kwargs}
    return make_pipeline(TemplateCounter(tfidf=tfidf), LinearSVC(**params))


def make_hist_gradient_boosting(random_state=None, *, tfidf=False, **kwargs):
    """``TemplateCounter`` + ``HistGradientBoostingClassifier`` (counts made dense).

    Trees need no weighting, so raw counts are the default.

    Parameters
    ----------
    random_state : int, RandomState or None, default=None
    tfidf : bool, default=False
    **kwargs
        Override the classifier's parameters.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from sklog.baselines import make_hist_gradient_boosting
    >>> X = [["open", "close"]] * 20 + [["open", "error"]] * 20
    >>> model = make_hist_gradient_boosting(random_state=0).fit(X, [0] * 20 + [1] * 20)
    >>> model.predict([["open", "error"]]).tolist()
    [1]
    """
    params = {"random_state": random_state, **kwargs}
    return make_pipeline(TemplateCounter(tfidf=tfidf),
                         FunctionTransformer(_to_dense, accept_sparse=True),
                         HistGradientBoostingClassifier(**params))
