"""Model-agnostic meta-learning (Finn et al., 2017) on session feature vectors, in torch.func."""

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


class MAMLClassifier(EpisodicMixin, ClassifierMixin, BaseEstimator):
    """An MLP classifier meta-trained to adapt to a new system in a few gradient steps.

    Episodes are drawn task by task (``groups``: the system of each row), each
    with ``n_shot`` support and ``n_query`` query rows per class. For every
    task of a meta-batch the weights take ``inner_steps`` SGD steps of size
    ``inner_lr`` on its support rows; the meta-loss is the query loss after
    those steps, and Adam (``lr``) moves the initial weights to lower it. So
    the weights learnt are not a classifier of the sources but a starting point
    from which a few labelled rows of a new system make one: :meth:`adapt`
    takes those steps on a target's support set and returns the adapted copy.

    Written with ``torch.func`` (``functional_call``, ``grad``, ``vmap`` over the
    tasks of a meta-batch), on the CPU as on CUDA, with nothing beyond torch.
    There is no learn2learn backend: learn2learn 0.2.0, its last release, does
    not build on Python 3.11.

    Parameters
    ----------
    hidden : tuple of int, default=(64,)
        Hidden layer widths.
    inner_lr : float, default=0.1
        Step size of the inner (adaptation) SGD steps.
    inner_steps : int, default=1
        Inner steps in training.
    adapt_steps : int or None, default=None
        Steps :meth:`adapt` takes (``None``: ``inner_steps``).
    first_order : bool, default=False
        First-order MAML: inner gradients are constants for the meta-gradient
        (cheaper, usually as good).
    meta_batch_size : int, default=4
        Tasks per meta-update.
    n_shot, n_query : int, default=5, 10
        Support and query rows per class in an episode.
    n_episodes : int, default=100
        Episodes per epoch.
    max_epochs : int, default=20
    lr : float, default=1e-3
        Adam's (outer) learning rate.
    device : str, default="auto"
    n_jobs : int or None, default=None
        torch threads (``None``: 1).
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray
    net_ : skorch.NeuralNet
        Holds the meta-learnt initial weights (or, after :meth:`adapt`, the
        adapted ones).
    n_tasks_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from sklog.meta import MAMLClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (40, 4)), rng.normal(3, 1, (40, 4))]
    >>> y = np.r_[np.zeros(40), np.ones(40)].astype(int)
    >>> model = MAMLClassifier(max_epochs=3, random_state=0).fit(X, y)
    >>> model.predict([[0, 0, 0, 0], [3, 3, 3, 3]]).tolist()
    [0, 1]
    """

    _parameter_constraints = {
        **EpisodicMixin._episodic_constraints,
        "inner_lr": [Interval(Real, 0, None, closed="neither")],
        "inner_steps": [Interval(Integral, 1, None, closed="left")],
        "adapt_steps": [Interval(Integral, 1, None, closed="left"), None],
        "first_order": ["boolean"],
        "meta_batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, hidden=(64,), inner_lr=0.1, inner_steps=1, adapt_steps=None,
                 first_order=False, meta_batch_size=4, n_shot=5, n_query=10, n_episodes=100,
                 max_epochs=20, lr=1e-3, device="auto", n_jobs=None, random_state=None,
                 verbose=0):
        self.hidden = hidden
        self.inner_lr = inner_lr
        self.inner_steps = inner_steps
        self.adapt_steps = adapt_steps
        self.first_order = first_order
        self.meta_batch_size = meta_batch_size
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
        """Meta-train the initial weights on episodes of the training tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), optional
            The system (task) of each row; ``None``: one task.

        Returns
        -------
        self : MAMLClassifier
        """
        import torch

        from ..nn._proto import ClassifierMLP, MAMLNet, NextEpisodes, episodes_as_is

        X, _, episodes, seed = self._episodes(X, y, groups)
        with torch_seed(seed, self.device_), torch_threads(self.n_jobs):
            self.net_ = MAMLNet(
                ClassifierMLP, module__n_features=X.shape[1], module__hidden=tuple(self.hidden),
                module__n_classes=len(self.classes_), inner_lr=self.inner_lr,
                inner_steps=self.inner_steps, first_order=self.first_order,
                criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=self.lr,
                max_epochs=self.max_epochs, batch_size=self.meta_batch_size, train_split=None,
                callbacks=[("episodes", NextEpisodes())], device=self.device_,
                verbose=int(self.verbose), dataset=episodes_as_is)
            self.net_.fit(episodes, None)
        return self

    def adapt(self, X_support, y_support):
        """A copy fine-tuned on a target system's support rows (``adapt_steps`` SGD steps).

        A support set of one class is allowed (with a warning): the steps then
        only push towards that class, as MAML's inner loop would.

        Parameters
        ----------
        X_support : array-like of shape (n_support, n_features)
        y_support : array-like of shape (n_support,)

        Returns
        -------
        adapted : MAMLClassifier
        """
        import torch

        X_support, codes = self._support(X_support, y_support, "net_")
        if len(np.unique(codes)) < 2:
            warnings.warn("the support set holds one class: adapting can only push towards "
                          "it.", UserWarning, stacklevel=2)
        adapted = copy.deepcopy(self)
        module = adapted.net_.module_
        x = torch.as_tensor(X_support, device=self.device_)
        target = torch.as_tensor(codes, device=self.device_)
        module.train()
        with torch_threads(self.n_jobs):
            for _ in range(self.adapt_steps or self.inner_steps):
                module.zero_grad()
                torch.nn.functional.cross_entropy(module(x), target).backward()
                with torch.no_grad():
                    for p in module.parameters():
                        p -= self.inner_lr * p.grad
        module.zero_grad()
        return adapted

    def _logits(self, X):
        check_is_fitted(self, "net_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        out = self._run_float64(self.net_.module_, X)
        return np.zeros((0, len(self.classes_))) if out is None else out
