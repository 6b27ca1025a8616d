"""Prototypical networks (Snell et al., 2017) on session feature vectors."""

from __future__ import annotations

import copy
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils import torch_seed, torch_threads
from ._episodes import EpisodicMixin


class ProtoNetClassifier(EpisodicMixin, ClassifierMixin, BaseEstimator):
    """Prototypical network: classify by the nearest class mean in a learned embedding.

    An MLP embeds feature vectors (e.g. :class:`~sklog.feature_extraction.BertEmbedder`
    and :class:`~sklog.feature_extraction.StructuralFeatures` of sessions). It is
    trained episodically: each episode draws one *task* (a system, from
    ``groups``), ``n_shot`` support and ``n_query`` query rows per class of it,
    and learns to put each query row nearest to the mean embedding
    (prototype) of its class's support rows. After ``fit`` the prototypes
    are the class means of all training rows; :meth:`adapt` recomputes them
    from a few labelled rows of a new system, without training.

    Parameters
    ----------
    hidden : tuple of int, default=(64,)
        Hidden layer widths of the embedding MLP.
    embedding_dim : int, default=32
    dropout : float in [0, 1), default=0.1
    n_shot, n_query : int, default=5, 10
        Support and query rows per class in an episode (drawn with replacement
        from a class with fewer rows).
    n_episodes : int, default=100
        Episodes per epoch.
    max_epochs : int, default=20
    lr : float, default=1e-2
        Adam's learning rate.
    device : str, default="auto"
    n_jobs : int or None, default=None
        torch threads (``None``: 1; the episodes are too small to share).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and episodes: same seed, same predictions on CPU.
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray
    prototypes_ : ndarray of shape (n_classes, embedding_dim)
        In float64, as inference runs.
    net_ : skorch.NeuralNet
    n_tasks_ : int
        Tasks (groups holding at least two classes) episodes were drawn from.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from sklog.meta import ProtoNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (40, 4)), rng.normal(3, 1, (40, 4))]
    >>> y = np.r_[np.zeros(40), np.ones(40)].astype(int)
    >>> model = ProtoNetClassifier(max_epochs=3, random_state=0).fit(X, y)
    >>> model.predict([[0, 0, 0, 0], [3, 3, 3, 3]]).tolist()
    [0, 1]
    """

    _parameter_constraints = {
        **EpisodicMixin._episodic_constraints,
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(self, hidden=(64,), embedding_dim=32, dropout=0.1, n_shot=5, n_query=10,
                 n_episodes=100, max_epochs=20, lr=1e-2, device="auto", n_jobs=None,
                 random_state=None, verbose=0):
        self.hidden = hidden
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.n_shot = n_shot
        self.n_query = n_query
        self.n_episodes = n_episodes
        self.max_epochs = max_epochs
        self.lr = lr
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Train the embedding on episodes drawn task by task.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), optional
            The system (task) of each row; ``None``: one task. Tasks with a
            single class are skipped (no episode can be drawn from them).

        Returns
        -------
        self : ProtoNetClassifier
        """
        import torch

        from ..nn._proto import EpisodeNet, NextEpisodes, PrototypeModule, episodes_as_is

        X, codes, episodes, seed = self._episodes(X, y, groups)
        with torch_seed(seed, self.device_), torch_threads(self.n_jobs):
            self.net_ = EpisodeNet(
                PrototypeModule, module__n_features=X.shape[1],
                module__hidden=tuple(self.hidden), module__embedding_dim=self.embedding_dim,
                module__dropout=self.dropout,
                criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=self.lr,
                max_epochs=self.max_epochs, batch_size=1, train_split=None,
                callbacks=[("episodes", NextEpisodes())], device=self.device_,
                verbose=int(self.verbose), dataset=episodes_as_is)
            self.net_.fit(episodes, None)
        self.prototypes_ = self._prototypes(X, codes)
        return self

    def _embed(self, X):
        out = self._run_float64(self.net_.module_.encoder, X)
        return np.zeros((0, self.embedding_dim)) if out is None else out

    def _prototypes(self, X, codes, base=None):
        emb = self._embed(X)
        prototypes = np.zeros((len(self.classes_), emb.shape[1]))
        for c in range(len(self.classes_)):
            rows = codes == c
            if rows.any():
                prototypes[c] = emb[rows].mean(0)
            elif base is not None:
                prototypes[c] = base[c]
        return prototypes

    def adapt(self, X_support, y_support):
        """A copy whose prototypes are the class means of a target system's support rows.

        No weight is trained: a few labelled rows of a new system move the
        prototypes to where its classes lie in the embedding. A class of
        ``classes_`` with no support row keeps its training prototype (with a
        warning), so a support set without anomalies still predicts them.

        Parameters
        ----------
        X_support : array-like of shape (n_support, n_features)
        y_support : array-like of shape (n_support,)

        Returns
        -------
        adapted : ProtoNetClassifier
        """
        X_support, codes = self._support(X_support, y_support, "prototypes_")
        missing = [c for i, c in enumerate(self.classes_) if not (codes == i).any()]
        if missing:
            warnings.warn(f"the support set has no row of class(es) {missing}: their "
                          "training prototypes are kept.", UserWarning, stacklevel=2)
        adapted = copy.deepcopy(self)
        adapted.prototypes_ = self._prototypes(X_support, codes, base=self.prototypes_)
        return adapted

    def _logits(self, X):
        check_is_fitted(self, "prototypes_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        emb = self._embed(X)
        d = ((emb[:, None, :] - self.prototypes_[None, :, :]) ** 2).sum(-1)
        return -d.astype(np.float64)
