"""Drift-based label transfer: anomaly labels of a new system's templates from labelled systems."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ..utils import check_session_labels, check_sessions


class DriftLabelTransfer(ClassifierMixin, BaseEstimator):
    """Weak labels for a system without labels, from the templates of labelled systems.

    ``fit`` reads labelled *source* sessions of template strings and labels
    each source template: anomalous when it occurs in an anomalous session
    and in at most ``max_normal_share`` of the normal ones (templates of
    normal sessions are normal). A *target* template then gets an anomaly
    probability from its ``n_neighbors`` most similar source templates,
    weighted by similarity; the similarity mixes Sentence-BERT cosine
    (:class:`~sklog.feature_extraction.BertEmbedder`, weight
    ``semantic_weight``) and fuzzy string similarity (rapidfuzz's
    ``token_set_ratio``, the rest). Its *confidence* is the similarity of the
    nearest source template. A target session's probability is that of its
    most anomalous template whose confidence reaches ``min_confidence``, so
    a target log without any label turns into weakly labelled sessions
    (:meth:`predict`), e.g. the ``k = 0`` row of leave-one-system-out. No
    target label is read anywhere.

    Parameters
    ----------
    embedder : BertEmbedder or None, default=None
        Embeds templates (cloned); ``None``: the packaged all-MiniLM-L6-v2.
    semantic_weight : float in [0, 1], default=0.5
        Weight of the cosine similarity against the fuzzy one.
    n_neighbors : int, default=3
        Source templates that vote on a target template.
    max_normal_share : float in [0, 1), default=0.0
        Share of normal source sessions an anomalous template may appear in.
    min_confidence : float in [0, 1], default=0.6
        Target templates less similar than this to every source template do
        not vote (probability 0): a template unlike anything seen gets no label.
    threshold : float in (0, 1), default=0.5
        :meth:`predict` labels a session anomalous at this probability.

    Attributes
    ----------
    classes_ : ndarray, ``[0, 1]``
    source_templates_ : list of str
    source_anomalous_ : ndarray of bool
        The label derived for each source template.
    embedder_ : BertEmbedder

    Examples
    --------
    >>> from sklog.meta import DriftLabelTransfer
    >>> source = [["disk ok", "job done"], ["disk failure on <*>", "job done"]]
    >>> transfer = DriftLabelTransfer().fit(source, [0, 1])
    >>> transfer.predict([["job done"], ["disk failure at <*> detected"]]).tolist()
    [0, 1]
    """

    _parameter_constraints = {
        "embedder": [HasMethods(["embed_templates"]), None],
        "semantic_weight": [Interval(Real, 0, 1, closed="both")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "max_normal_share": [Interval(Real, 0, 1, closed="left")],
        "min_confidence": [Interval(Real, 0, 1, closed="both")],
        "threshold": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(self, embedder=None, *, semantic_weight=0.5, n_neighbors=3,
                 max_normal_share=0.0, min_confidence=0.6, threshold=0.5):
        self.embedder = embedder
        self.semantic_weight = semantic_weight
        self.n_neighbors = n_neighbors
        self.max_normal_share = max_normal_share
        self.min_confidence = min_confidence
        self.threshold = threshold

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Label every template of the labelled source sessions.

        Parameters
        ----------
        X : sequence of sessions of template strings
            Sessions of the source systems.
        y : array-like of shape (n_sessions,)
            ``1`` anomalous, ``0`` normal.

        Returns
        -------
        self : DriftLabelTransfer
        """
        from ..feature_extraction import BertEmbedder

        sessions = check_sessions(X, allow_numeric=False, estimator=self)
        if y is None:
            raise ValueError("DriftLabelTransfer needs the labels of the source sessions (y).")
        y = check_session_labels(y, len(sessions)).astype(int)
        if not set(np.unique(y)) <= {0, 1}:
            raise ValueError(f"y must hold 0 (normal) and 1 (anomalous), got {np.unique(y)}.")
        normal_sessions = max(int((y == 0).sum()), 1)
        in_normal, in_anomalous = {}, {}
        for session, label in zip(sessions, y, strict=True):
            counts = in_anomalous if label else in_normal
            for template in set(session):
                counts[template] = counts.get(template, 0) + 1
        self.source_templates_ = sorted(set(in_normal) | set(in_anomalous))
        self.source_anomalous_ = np.array(
            [t in in_anomalous and in_normal.get(t, 0) / normal_sessions
             <= self.max_normal_share for t in self.source_templates_], dtype=bool)
        self.embedder_ = clone(self.embedder) if self.embedder is not None else BertEmbedder()
        self._source_vectors = self._unit(self.embedder_.embed_templates(
            self.source_templates_))
        self.classes_ = np.array([0, 1])
        return self

    @staticmethod
    def _unit(vectors):
        vectors = np.asarray(vectors, dtype=np.float64)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def template_probabilities(self, templates):
        """Anomaly probability and confidence of each target template.

        Parameters
        ----------
        templates : sequence of str

        Returns
        -------
        probability, confidence : ndarray of shape (len(templates),)
        """
        from rapidfuzz import fuzz, process

        check_is_fitted(self, "source_anomalous_")
        templates = [str(t) for t in templates]
        if not templates or not self.source_templates_:
            return np.zeros(len(templates)), np.zeros(len(templates))
        cosine = self._unit(self.embedder_.embed_templates(templates)) @ self._source_vectors.T
        fuzzy = process.cdist(templates, self.source_templates_, scorer=fuzz.token_set_ratio,
                              dtype=np.float32, workers=1) / 100.0
        w = self.semantic_weight
        similarity = w * np.clip(cosine, 0, 1) + (1 - w) * fuzzy
        k = min(self.n_neighbors, similarity.shape[1])
        nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
        weights = np.take_along_axis(similarity, nearest, axis=1)
        votes = self.source_anomalous_[nearest]
        probability = (weights * votes).sum(1) / np.maximum(weights.sum(1), 1e-12)
        confidence = weights[:, 0]
        probability[confidence < self.min_confidence] = 0.0
        return probability, confidence

    def predict_proba(self, X):
        """Per target session: ``[P(normal), P(anomalous)]``, from its most anomalous template."""
        sessions = check_sessions(X, allow_numeric=False, estimator=self)
        unique = list(dict.fromkeys(t for s in sessions for t in s))
        probability, _ = self.template_probabilities(unique)
        lookup = dict(zip(unique, probability, strict=True))
        p = np.array([max((lookup[t] for t in s), default=0.0) for s in sessions])
        return np.column_stack([1 - p, p])

    def predict(self, X):
        """Weak labels of target sessions: ``1`` where the probability reaches ``threshold``."""
        return (self.predict_proba(X)[:, 1] >= self.threshold).astype(int)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = True
        return tags
