"""Structural session features: length, variety, novelty and severity words, no labels."""

from __future__ import annotations

import re
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..utils import OOV_ID, TemplateVocabulary, check_sessions

#: Words whose lines :class:`StructuralFeatures` counts by default (case-insensitive,
#: at the start of a word: ``fail`` also counts ``failed`` and ``failure``).
SEVERITY_WORDS = ("error", "fatal", "exception", "fail", "critical", "warn", "timeout",
                  "refused", "denied", "panic", "abort", "kill")

_STATISTICS = ("n_lines", "n_unique_templates", "unseen_share", "rare_share",
               "template_entropy")


class StructuralFeatures(TransformerMixin, BaseEstimator):
    """Per session: length, variety, novelty against ``fit`` and severity-word counts.

    The structural half of the features of Sharma & Yelleti's cross-system
    detector, computed from the sessions alone: no feature looks at a label
    (``y`` is ignored everywhere), so they can be fitted on one system and
    used on another. Combine them with sentence vectors through
    :class:`~sklearn.pipeline.FeatureUnion`::

        FeatureUnion([("text", BertEmbedder()), ("structure", StructuralFeatures())])

    Parameters
    ----------
    severity_words : sequence of str, default=SEVERITY_WORDS
        One column each: lines of the session holding the word (case-insensitive,
        at the start of a word).
    rare_count : int >= 1, default=5
        A template seen in ``fit`` fewer than this many times is *rare*.

    Attributes
    ----------
    vocabulary_ : TemplateVocabulary
        The templates seen in ``fit``, with their counts.

    Notes
    -----
    Columns, in order: ``n_lines``; ``n_unique_templates`` (distinct strings,
    unseen ones included); ``unseen_share`` (lines whose template ``fit``
    never saw); ``rare_share`` (lines whose template ``fit`` saw fewer than
    ``rare_count`` times); ``template_entropy`` (of the session's template
    distribution, in nats); then ``count_<word>`` per severity word. An empty
    session is all zeros. Each distinct template is searched for the words
    once per call.

    Examples
    --------
    >>> from sklog.feature_extraction import StructuralFeatures
    >>> features = StructuralFeatures(severity_words=["error"], rare_count=2)
    >>> features.fit([["open", "read", "close"], ["open", "close"]]).transform(
    ...     [["open", "ERROR disk", "ERROR disk"]]).round(3).tolist()
    [[3.0, 2.0, 0.667, 0.0, 0.637, 2.0]]
    >>> features.get_feature_names_out().tolist()
    ['n_lines', 'n_unique_templates', 'unseen_share', 'rare_share', 'template_entropy', \
'count_error']
    """

    _parameter_constraints = {
        "severity_words": ["array-like"],
        "rare_count": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, severity_words=SEVERITY_WORDS, rare_count=5):
        self.severity_words = severity_words
        self.rare_count = rare_count

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the templates of ``X`` and how often each occurs.

        Parameters
        ----------
        X : sequence of sessions
            Sessions of template strings (or raw lines).
        y : ignored
            Never used: no feature depends on labels.

        Returns
        -------
        self : StructuralFeatures
        """
        words = list(self.severity_words)
        if not all(isinstance(word, str) and word for word in words):
            raise ValueError(f"severity_words must be non-empty strings, got {words!r}.")
        self.vocabulary_ = TemplateVocabulary().fit(check_sessions(X, estimator=self))
        self._word_pattern = re.compile(
            "|".join(rf"(?P<w{i}>\b{re.escape(word)})" for i, word in enumerate(words)),
            re.IGNORECASE) if words else None
        return self

    def transform(self, X):
        """Structural features of each session.

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        features : ndarray of shape (n_sessions, 5 + len(severity_words))
        """
        check_is_fitted(self, "vocabulary_")
        sessions = check_sessions(X, estimator=self)
        ids, lengths = self.vocabulary_.encode_flat(sessions)
        rows = np.repeat(np.arange(len(sessions)), lengths)
        n = len(sessions)
        safe = np.maximum(lengths, 1)
        rare = np.zeros(self.vocabulary_.size, dtype=bool)
        rare[2:] = self.vocabulary_.counts_ < self.rare_count
        unseen = np.bincount(rows, weights=ids == OOV_ID, minlength=n) / safe
        rare_share = np.bincount(rows, weights=rare[ids], minlength=n) / safe
        # distinct strings of this call (unseen ones stay distinct): counts per session
        local = {}
        columns = np.fromiter((local.setdefault(t, len(local)) for s in sessions for t in s),
                              dtype=np.int64, count=len(ids))
        counts = sp.csr_matrix((np.ones(len(ids)), (rows, columns)), shape=(n, len(local)))
        counts.sum_duplicates()
        n_unique = np.diff(counts.indptr)
        p = counts.data / np.repeat(safe, n_unique)
        plogp = -p * np.log(p)
        entropy = np.zeros(n)
        nonempty = n_unique > 0
        entropy[nonempty] = np.add.reduceat(plogp, counts.indptr[:-1][nonempty])
        words = self._severity(list(local), len(self.severity_words))
        return np.column_stack([lengths, n_unique, unseen, rare_share, entropy,
                                counts @ words]).astype(np.float64)

    def _severity(self, texts, n_words):
        """``(len(texts), n_words)``: whether each distinct text holds each word."""
        out = np.zeros((len(texts), n_words))
        if self._word_pattern is None:
            return out
        for row, text in enumerate(texts):
            for found in self._word_pattern.finditer(str(text)):
                out[row, int(found.lastgroup[1:])] = 1.0
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "vocabulary_")
        return np.asarray([*_STATISTICS, *(f"count_{w}" for w in self.severity_words)],
                          dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = True
        tags.transformer_tags.preserves_dtype = []
        return tags
