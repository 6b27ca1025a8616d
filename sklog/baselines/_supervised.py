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


_FACTORY_DOC = """{summary}

{notes}Parameters
----------
random_state : int, RandomState or None, default=None
tfidf : bool, default={tfidf}
    Weight counts by idf (loglizer's supervised demos use tf-idf).
**kwargs
    Override the classifier's parameters.

Returns
-------
Pipeline

Examples
--------
>>> from sklog.baselines import {name}
>>> X = [["open", "close"]] * 20 + [["open", "error"]] * 20
>>> model = {name}(random_state=0).fit(X, [0] * 20 + [1] * 20)
>>> model.predict([["open", "error"]]).tolist()
[1]
"""


def _documented(summary, notes=""):
    """Give a factory the docstring every supervised factory shares."""

    def decorate(factory):
        import inspect

        tfidf = inspect.signature(factory).parameters["tfidf"].default
        factory.__doc__ = _FACTORY_DOC.format(summary=summary, notes=notes + "\n" if notes
                                              else "", tfidf=tfidf, name=factory.__name__)
        return factory

    return decorate


@_documented("``TemplateCounter`` + ``LogisticRegression`` (loglizer: ``C=100, tol=0.01``).")
def make_logistic_regression(random_state=None, *, tfidf=True, **kwargs):
    params = {"C": 100, "tol": 0.01, "max_iter": 1000, "random_state": random_state, **kwargs}
    return make_pipeline(TemplateCounter(tfidf=tfidf), LogisticRegression(**params))


@_documented("``TemplateCounter`` + ``DecisionTreeClassifier`` (loglizer's defaults).")
def make_decision_tree(random_state=None, *, tfidf=True, **kwargs):
    params = {"random_state": random_state, **kwargs}
    return make_pipeline(TemplateCounter(tfidf=tfidf), DecisionTreeClassifier(**params))


@_documented("``TemplateCounter`` + ``LinearSVC`` (loglizer: ``C=1, tol=0.1, dual=False``).",
             "``LinearSVC`` has no ``predict_proba``; :func:`sklog.metrics.anomaly_score`\n"
             "ranks with its ``decision_function``.\n")
def make_linear_svc(random_state=None, *, tfidf=True, **kwargs):
    params = {"C": 1.0, "tol": 0.1, "dual": False, "max_iter": 1000,
              "random_state": random_state, **kwargs}
    return make_pipeline(TemplateCounter(tfidf=tfidf), LinearSVC(**params))


@_documented("``TemplateCounter`` + ``HistGradientBoostingClassifier`` (counts made dense).",
             "Trees need no weighting, so raw counts are the default.\n")
def make_hist_gradient_boosting(random_state=None, *, tfidf=False, **kwargs):
    params = {"random_state": random_state, **kwargs}
    return make_pipeline(TemplateCounter(tfidf=tfidf),
                         FunctionTransformer(_to_dense, accept_sparse=True),
                         HistGradientBoostingClassifier(**params))
