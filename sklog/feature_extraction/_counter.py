"""Event count vectors: the input of every classic baseline (loglizer's FeatureExtractor)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..utils import OOV_ID, TemplateVocabulary, check_sessions


class TemplateCounter(TransformerMixin, BaseEstimator):
    """Count each template per session: sessions of template strings -> sparse matrix.

    The vocabulary is learned in ``fit``; templates never seen there are
    counted together in one extra, last column, so novel behaviour stays
    visible to the model downstream instead of vanishing.

    Parameters
    ----------
    tfidf : bool, default=False
        Weight counts by inverse document frequency learned in ``fit``
        (smoothed idf, as :class:`~sklearn.feature_extraction.text.TfidfTransformer`;
        no row normalisation).
    min_count : int, default=1
        Templates seen fewer times in ``fit`` are counted as unseen.
    binary : bool, default=False
        Record presence (1) instead of counts.

    Attributes
    ----------
    vocabulary_ : TemplateVocabulary
        Template string <-> column mapping.
    idf_ : ndarray of shape (n_templates + 1,)
        Only when ``tfidf=True``.

    Examples
    --------
    >>> from sklog.feature_extraction import TemplateCounter
    >>> counter = TemplateCounter().fit([["open", "close", "open"]])
    >>> counter.transform([["open", "crash"]]).toarray()
    array([[1., 0., 1.]])
    >>> counter.get_feature_names_out().tolist()
    ['open', 'close', '<OOV>']
    """

    _parameter_constraints = {
        "tfidf": ["boolean"],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "binary": ["boolean"],
    }

    def __init__(self, tfidf=False, min_count=1, binary=False):
        self.tfidf = tfidf
        self.min_count = min_count
        self.binary = binary

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        sessions = check_sessions(X, estimator=self)
        self.vocabulary_ = TemplateVocabulary(min_count=self.min_count).fit(sessions)
        if self.tfidf:
            tfidf = TfidfTransformer(norm=None, smooth_idf=True)
            tfidf.fit(self._counts(sessions))
            self.idf_ = tfidf.idf_
        return self

    def _counts(self, sessions):
        ids, lengths = self.vocabulary_.encode_flat(sessions)
        n_templates = len(self.vocabulary_.templates_)
        # ids 2.. are templates (columns 0..), the OOV id goes to the last column
        cols = np.where(ids == OOV_ID, n_templates, ids - 2)
        rows = np.repeat(np.arange(len(sessions)), lengths)
        data = np.ones(len(ids), dtype=np.float64)
        counts = sp.csr_matrix((data, (rows, cols)), shape=(len(sessions), n_templates + 1))
        counts.sum_duplicates()
        if self.binary:
            counts.data[:] = 1.0
        return counts

    def transform(self, X):
        check_is_fitted(self, "vocabulary_")
        counts = self._counts(check_sessions(X, estimator=self))
        if self.tfidf:
            counts = counts @ sp.diags(self.idf_)
        return counts.tocsr()

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "vocabulary_")
        return np.asarray([*self.vocabulary_.templates_, "<OOV>"], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = True
        tags.transformer_tags.preserves_dtype = []
        return tags
