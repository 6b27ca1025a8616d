"""Embedding-based drift monitoring (SiaLog): is new log data still like the training data?

A Gaussian mixture is fitted on the embeddings of the training sessions; the
*fitness score* of new sessions is the mean log-likelihood of their
embeddings under it. When logging statements change (new templates, reordered
events) the embeddings move away from the training mixture and the score
falls; below a threshold learned from training data only, it is time to retrain.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data


class DriftMonitor(BaseEstimator):
    """Gaussian-mixture fitness of session embeddings, with a retraining rule.

    Parameters
    ----------
    estimator : fitted estimator with ``transform``, or None, default=None
        The deployed model whose embeddings are monitored (e.g. a fitted
        :class:`sklog.SiameseClassifier`); it is used as given, never refitted.
        ``None``: ``X`` is already an ``(n, d)`` array of embeddings.
    n_components : int, default=15
        Mixture components (capped at the number of fitting sessions).
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    holdout_fraction : float, default=0.2
        Share of the training embeddings held out of the mixture fit to
        calibrate the threshold (out-of-sample, so the rule is not optimistic).
    quantile : float, default=0.01
        The retraining threshold is this lower quantile of the fitness of
        ``n_bootstrap`` bootstrap batches of held-out training embeddings
        (each the size of the held-out part): a new batch scoring below it is
        less likely than 1 % of batches of in-distribution sessions.
    n_bootstrap : int, default=200
    reg_covar : float, default=1e-4
        Added to the covariance diagonals (embeddings of deduplicated
        sessions can be nearly collinear).
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    mixture_ : GaussianMixture
    threshold_ : float
        Fitness below which :meth:`needs_retraining` says yes.
    bootstrap_fitness_ : ndarray
        The bootstrap fitness values the threshold comes from.
    n_features_in_ : int
        Embedding dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from sklog.drift import DriftMonitor
    >>> rng = np.random.RandomState(0)
    >>> monitor = DriftMonitor(n_components=2, random_state=0).fit(rng.normal(size=(200, 3)))
    >>> bool(monitor.needs_retraining(rng.normal(size=(50, 3))))
    False
    >>> bool(monitor.needs_retraining(rng.normal(loc=3.0, size=(50, 3))))
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["transform"]), None],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "holdout_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "quantile": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_bootstrap": [Interval(numbers.Integral, 1, None, closed="left")],
        "reg_covar": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_components=15,
        covariance_type="full",
        holdout_fraction=0.2,
        quantile=0.01,
        n_bootstrap=200,
        reg_covar=1e-4,
        random_state=None,
    ):
        self.estimator = estimator
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.holdout_fraction = holdout_fraction
        self.quantile = quantile
        self.n_bootstrap = n_bootstrap
        self.reg_covar = reg_covar
        self.random_state = random_state

    def _embed(self, X, reset):
        if isinstance(X, (str, bytes)):
            raise TypeError(
                "DriftMonitor got a single string; expected a sequence of sessions (with an "
                "estimator) or an (n_sessions, n_features) array of embeddings."
            )
        if self.estimator is None:
            if reset:
                return validate_data(self, X, dtype=np.float64)
            return validate_data(self, X, dtype=np.float64, reset=False)
        Z = check_array(self.estimator.transform(X), dtype=np.float64)
        if reset:
            self.n_features_in_ = Z.shape[1]
        return Z

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the mixture on training embeddings and derive the retraining threshold.

        Parameters
        ----------
        X : sessions (when ``estimator`` is set) or array of shape (n, d)
        y : ignored

        Returns
        -------
        self
        """
        Z = self._embed(X, reset=True)
        rng = check_random_state(self.random_state)
        n = len(Z)
        n_hold = int(round(self.holdout_fraction * n))
        if n_hold >= 1 and n - n_hold >= 2:
            order = rng.permutation(n)
            fit_part, hold_part = Z[order[n_hold:]], Z[order[:n_hold]]
        else:  # too few sessions to hold any out: calibrate in-sample
            fit_part, hold_part = Z, Z
        self.mixture_ = GaussianMixture(
            n_components=min(self.n_components, len(fit_part)),
            covariance_type=self.covariance_type,
            reg_covar=self.reg_covar,
            random_state=rng.randint(np.iinfo(np.int32).max),
        ).fit(fit_part)
        loglik = self.mixture_.score_samples(hold_part)
        draws = rng.randint(len(loglik), size=(self.n_bootstrap, len(loglik)))
        self.bootstrap_fitness_ = loglik[draws].mean(axis=1)
        self.threshold_ = float(np.quantile(self.bootstrap_fitness_, self.quantile))
        return self

    def score_samples(self, X):
        """Log-likelihood of each session's embedding under the training mixture.

        Parameters
        ----------
        X : sessions or array of shape (n, d)

        Returns
        -------
        ndarray of shape (n,)
        """
        check_is_fitted(self, "mixture_")
        return self.mixture_.score_samples(self._embed(X, reset=False))

    def fitness_score(self, X):
        """Mean log-likelihood of the embeddings of ``X``: higher = closer to training data.

        Parameters
        ----------
        X : sessions or array of shape (n, d)

        Returns
        -------
        float
        """
        return float(np.mean(self.score_samples(X)))

    def score(self, X, y=None):
        """The fitness score (so model selection tools can use the monitor)."""
        return self.fitness_score(X)

    def needs_retraining(self, X):
        """Whether the fitness of ``X`` fell below ``threshold_``.

        Parameters
        ----------
        X : sessions or array of shape (n, d)
            A batch of recent sessions; the rule is calibrated for batches of
            about the held-out size or larger.

        Returns
        -------
        bool
        """
        return bool(self.fitness_score(X) < self.threshold_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            tags.input_tags.string = True
            tags.input_tags.two_d_array = True
        return tags
