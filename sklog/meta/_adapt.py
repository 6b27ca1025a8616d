"""Fit on labelled source systems, adapt to a new system's few labelled sessions."""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..utils import check_session_labels, check_sessions


class SystemSession(list):
    """A session (a list of lines or templates) that knows its system: ``.system``.

    Pipelines read it as the plain list it is; :class:`FewShotAdapter` reads
    ``system`` when ``fit`` gets no ``groups``, which is how the benchmark
    harness (whose ``fit`` passes ``X`` and ``y`` only) tells it which
    training rows are the target's support.
    """

    def __init__(self, lines=(), system=None):
        super().__init__(lines)
        self.system = system

    def __reduce__(self):
        return (type(self), (list(self), self.system))


def tag_sessions(X, system):
    """``X`` as :class:`SystemSession` objects of ``system``.

    Examples
    --------
    >>> from sklog.meta import tag_sessions
    >>> [s.system for s in tag_sessions([["a"], ["b"]], "HDFS")]
    ['HDFS', 'HDFS']
    """
    return [SystemSession(s, system) for s in X]


#: The label of a session without one (scikit-learn's semi-supervised convention, as in
#: ``SelfTrainingClassifier``): the new system's unlabelled logs, which
#: :class:`FewShotAdapter` reads without their labels for ``per_system`` and ``prior="em"``.
UNLABELLED = -1


def unlabelled_mask(y):
    """Rows of ``y`` equal to :data:`UNLABELLED` (never true for string labels)."""
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        return np.zeros(len(y), dtype=bool)
    return y == UNLABELLED


def shift_prior(p, fit_prior, prior):
    """Probabilities ``p`` learned at anomaly rate ``fit_prior``, moved to rate ``prior``.

    Bayes' rule with the class-conditional densities unchanged (Saerens et al.,
    2002): the odds are multiplied by the ratio of the prior odds.

    Examples
    --------
    >>> from sklog.meta._adapt import shift_prior
    >>> round(float(shift_prior(0.5, 0.5, 0.1)), 3)
    0.1
    """
    p = np.clip(p, 1e-12, 1 - 1e-12)
    fit_prior, prior = (np.clip(v, 1e-12, 1 - 1e-12) for v in (fit_prior, prior))
    odds = p / (1 - p) * (prior / (1 - prior)) / (fit_prior / (1 - fit_prior))
    return odds / (1 + odds)


def em_prior(p, fit_prior, max_iter=1000, tol=1e-8):
    """The anomaly rate of unlabelled rows, by EM on their probabilities (Saerens et al., 2002).

    ``p`` are a classifier's anomaly probabilities on rows of a new system,
    learned at rate ``fit_prior``. The fixed point of "move the probabilities
    to rate ``r``, then ``r`` = their mean" is the maximum-likelihood rate of
    those rows, with no label read.

    Examples
    --------
    >>> import numpy as np
    >>> from sklog.meta._adapt import em_prior, shift_prior
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(20000) < 0.05                     # 5% anomalies
    >>> score = rng.normal(2.0 * y, 1.0)                 # a score, anomalies higher
    >>> p_balanced = 1 / (1 + np.exp(-(2.0 * score - 2.0)))  # exact posterior at rate 0.5
    >>> round(em_prior(p_balanced, 0.5), 2)
    0.05
    """
    p = np.asarray(p, dtype=np.float64)
    rate = float(np.clip(fit_prior, 1e-6, 1 - 1e-6))
    for _ in range(max_iter):
        new = float(np.mean(shift_prior(p, fit_prior, rate)))
        if abs(new - rate) < tol:
            return new
        rate = new
    return rate


def _share(y, label):
    """Share of ``label`` in ``y`` (0 when ``y`` is empty)."""
    return float(np.mean(np.asarray(y) == label)) if len(y) else 0.0


def session_systems(X):
    """The ``system`` of every session (``None`` for a session that has none)."""
    return np.array([getattr(s, "system", None) for s in X], dtype=object)


class FitMemory:
    """An in-memory ``memory`` for :class:`FewShotAdapter`: the last ``maxsize`` results.

    Like ``joblib.Memory`` (``cache(func)`` returns a memoised ``func``, keyed by
    :func:`joblib.hash` of its arguments) but kept in the process, never on disk,
    and returning the very objects computed (a fitted ``BertEmbedder`` keeps its
    template cache). Models that fit the same features on the same rows with
    the same ``random_state`` share one fit.

    Examples
    --------
    >>> from sklog.meta import FitMemory
    >>> memory = FitMemory(maxsize=1)
    >>> square = memory.cache(lambda x: x * x)
    >>> square(3), square(3), len(memory)
    (9, 9, 1)
    """

    def __init__(self, maxsize=2):
        self.maxsize = maxsize
        self._store = {}

    def __len__(self):
        return len(self._store)

    def cache(self, func):
        import joblib

        def cached(*args):
            key = joblib.hash((getattr(func, "__module__", None),
                               getattr(func, "__qualname__", None), args))
            if key not in self._store:
                while self._store and len(self._store) >= self.maxsize:
                    self._store.pop(next(iter(self._store)))
                self._store[key] = func(*args)
            return self._store[key]

        return cached


def _fit_features(features, X, y):
    """A fitted clone of ``features`` and its output on ``X``."""
    fitted = clone(features)
    return fitted, fitted.fit(X, y).transform(X)


class FewShotAdapter(ClassifierMixin, BaseEstimator):
    """Features and a learner fitted on source systems, then adapted to a target's support.

    ``fit(X, y, groups)`` splits the rows by system: the rows of ``target`` are
    its *support set* (a few labelled sessions of the new system, possibly
    none), every other row is *source*. Then:

    1. ``features`` (e.g. ``FeatureUnion`` of
       :class:`~sklog.feature_extraction.BertEmbedder` and
       :class:`~sklog.feature_extraction.StructuralFeatures`, a scaler, a
       :class:`~sklog.feature_selection.MutualInfoSelector`) is fitted on
       source and support rows together: the only rows there are.
    2. A learner with ``adapt`` (:class:`ProtoNetClassifier`,
       :class:`MAMLClassifier`) is fitted on the source rows, resampled by
       ``sampler`` (e.g. SMOTE) when given, with ``groups`` as its tasks; then
       ``learner_ = learner_.adapt(support)``. With no support row (``k = 0``) it
       is used as fitted on the sources.
    3. Any other learner (a baseline) is fitted on source and support rows
       together, resampled by ``sampler`` when given.

    Nothing is tuned on the rows scored later: predictions use the learner's
    own rule (nearest prototype, argmax), at the class balance of the rows it
    last learned from (even after SMOTE or a ``k + k`` support). ``prior``
    moves that rule to another anomaly rate (Saerens et al., 2002): the
    learner's probability odds are multiplied by the ratio of the prior odds.

    **Unlabelled sessions.** A team adapting to a new system has its logs,
    mostly without labels. Rows labelled :data:`UNLABELLED` (``-1``, as in
    scikit-learn's ``SelfTrainingClassifier``) are read without a label: they
    never reach the features' ``fit`` or the learner, only ``per_system``
    (each system's feature statistics) and ``prior="em"`` (the target's
    anomaly rate). Nothing there reads a label, so the rows scored later may
    come from the same logs without a label leaking.

    Parameters
    ----------
    features : transformer
        Sessions -> feature array; cloned and fitted in ``fit``.
    learner : classifier
        Cloned and fitted in ``fit``.
    target : hashable or None, default=None
        The system adapted to. ``None``: no row is support.
    sampler : imbalanced-learn sampler or None, default=None
        Resamples the feature rows the learner is fitted on (cloned).
    memory : object with a ``cache`` method (e.g. ``joblib.Memory``) or None, default=None
        Caches fitting ``features`` (keyed by its parameters, ``X``, ``y``), as
        ``Pipeline(memory=...)`` does: rows that share features and training
        data fit them once.
    prior : None, "source" or float in (0, 1), default=None
        The anomaly rate (the rate of ``classes_[1]``, ``1`` for 0/1 labels)
        predictions assume on the target. ``None``: the
        learner's own rule. ``"source"``: the anomaly rate of the source rows
        (training labels only: the target's own rate is unknown). A float: that
        rate. Needs a learner with ``predict_proba`` and two classes; changes
        ``predict`` and ``predict_proba`` (``decision_function`` becomes the
        corrected log-odds), never the ranking of sessions.
        ``"em"``: the target's rate estimated from its unlabelled rows by EM
        on the learner's probabilities (:func:`em_prior`; needs unlabelled
        rows of ``target``, or any unlabelled row when ``target`` is None).
    per_system : transformer or None, default=None
        E.g. ``StandardScaler()``: cloned and fitted on the feature rows of each
        system on its own (labelled and unlabelled rows, never their labels)
        and applied to that system's rows, so every system's features are
        measured against its own normal spread, not the pooled one. Sessions
        scored later use their own system's transformer (the ``system`` of a
        :class:`SystemSession`), else the target's (else the one of
        ``fit``'s only system). Dense or sparse features; the transformer may
        change their width (a scaler then a selector, say).

    Attributes
    ----------
    classes_ : ndarray
    features_ : transformer
    learner_ : classifier
        Fitted, and adapted when there was support.
    n_source_, n_support_, n_unlabelled_ : int
        Rows of each kind ``fit`` received (unlabelled: of any system).
    system_transformers_ : dict or None
        System -> its fitted ``per_system`` transformer.
    fit_prior_ : float
        Share of ``classes_[-1]`` in the rows the learner last learned from
        (after resampling; the support's when it was adapted).
    prior_ : float or None
        The anomaly rate of ``prior``, resolved.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklog.meta import FewShotAdapter, ProtoNetClassifier, tag_sessions
    >>> counts = FunctionTransformer(lambda X: np.array([[s.count("a"), s.count("b")]
    ...                                                   for s in X], dtype=float))
    >>> source = tag_sessions([["a"] * 3] * 20 + [["b"] * 3] * 20, "old")
    >>> support = tag_sessions([["a", "c"], ["b", "c"]], "new")
    >>> model = FewShotAdapter(counts, ProtoNetClassifier(max_epochs=2, random_state=0),
    ...                        target="new")
    >>> model.fit(source + support, [0] * 20 + [1] * 20 + [0, 1]).n_support_
    2
    >>> model.predict([["a", "a"], ["b", "b"]]).tolist()
    [0, 1]
    """

    _parameter_constraints = {
        "features": [HasMethods(["fit", "transform"])],
        "learner": [HasMethods(["fit", "predict"])],
        "target": "no_validation",
        "sampler": [HasMethods(["fit_resample"]), None],
        "memory": [HasMethods(["cache"]), None],
        "prior": [None, StrOptions({"source", "em"}), Interval(Real, 0, 1, closed="neither")],
        "per_system": [HasMethods(["fit", "transform"]), None],
    }

    def __init__(self, features, learner, *, target=None, sampler=None, memory=None,
                 prior=None, per_system=None):
        self.features = features
        self.learner = learner
        self.target = target
        self.sampler = sampler
        self.memory = memory
        self.prior = prior
        self.per_system = per_system

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, groups=None):
        """Fit the features and the learner on the sources; adapt to the target's support.

        Parameters
        ----------
        X : sequence of sessions
        y : array-like of shape (n_sessions,); required (``None`` raises ValueError)
            :data:`UNLABELLED` (``-1``) marks a session without a label.
        groups : array-like of shape (n_sessions,), optional
            The system of each session; ``None``: read from each session's
            ``system`` attribute (:func:`tag_sessions`).

        Returns
        -------
        self : FewShotAdapter
        """
        if groups is None:  # read before validation, which returns plain lists
            groups = session_systems(X) if isinstance(X, (list, tuple, np.ndarray)) else None
        X = check_sessions(X, allow_numeric=False, estimator=self)
        if y is None:
            raise ValueError("FewShotAdapter requires y: the labels of the source sessions "
                             "and of the target's support.")
        y = check_session_labels(y, len(X))
        groups = np.full(len(X), None, dtype=object) if groups is None \
            else np.asarray(groups, dtype=object)
        if len(groups) != len(X):
            raise ValueError(f"groups has {len(groups)} entries for {len(X)} sessions.")
        unlabelled = unlabelled_mask(y)
        if unlabelled.all():
            raise ValueError("every session is unlabelled (y == -1): there is nothing to "
                             "learn from.")
        of_target = np.array([g == self.target for g in groups], dtype=bool) \
            if self.target is not None else np.zeros(len(X), dtype=bool)
        support = of_target & ~unlabelled
        if not (~of_target & ~unlabelled).any():
            raise ValueError(f"every labelled row is of the target system {self.target!r}: "
                             "there is no source system to learn from.")
        labelled = np.flatnonzero(~unlabelled)
        X = [list(s) for s in X]
        y_lab, g_lab, support = y[labelled], groups[labelled], support[labelled]
        self.classes_ = np.unique(y_lab)
        self.n_support_, self.n_source_ = int(support.sum()), int((~support).sum())
        self.n_unlabelled_ = int(unlabelled.sum())
        fit_features = _fit_features if self.memory is None else self.memory.cache(_fit_features)
        self.features_, Z = fit_features(self.features, [X[i] for i in labelled], y_lab)
        Z_unlabelled = self.features_.transform([X[i] for i in np.flatnonzero(unlabelled)]) \
            if self.n_unlabelled_ else Z[:0]
        self.system_transformers_ = None
        if self.per_system is not None:
            Z, Z_unlabelled = self._fit_per_system(Z, g_lab, Z_unlabelled, groups[unlabelled])
        adaptive = hasattr(self.learner, "adapt")
        rows = ~support if adaptive else np.ones(len(y_lab), dtype=bool)
        Z_fit, y_fit, g_fit = Z[rows], y_lab[rows], g_lab[rows]
        if self.sampler is not None:
            Z_fit, y_fit = clone(self.sampler).fit_resample(Z_fit, y_fit)
            g_fit = None  # resampled rows have no system: one task
        learner = clone(self.learner)
        positive = self.classes_[-1]  # predict_proba's last column: 1, the anomaly
        self.fit_prior_ = _share(y_fit, positive)
        if adaptive:
            learner.fit(Z_fit, y_fit, groups=None if g_fit is None else g_fit.astype(str))
            if self.n_support_:
                learner = learner.adapt(Z[support], y_lab[support])
                self.fit_prior_ = _share(y_lab[support], positive)
        else:
            learner.fit(Z_fit, y_fit)
        self.learner_ = learner
        self.prior_ = None
        if self.prior is not None:
            if len(self.classes_) != 2 or not hasattr(learner, "predict_proba"):
                raise ValueError("prior needs a learner with predict_proba and two classes.")
            if self.prior == "em":
                target_rows = of_target[unlabelled] if self.target is not None \
                    else np.ones(self.n_unlabelled_, dtype=bool)
                if not target_rows.any():
                    raise ValueError(
                        "prior='em' estimates the target's anomaly rate from its unlabelled "
                        f"sessions (y == {UNLABELLED}), and fit received none of system "
                        f"{self.target!r}.")
                p = learner.predict_proba(Z_unlabelled[target_rows])[:, 1]
                self.prior_ = em_prior(p, self.fit_prior_)
            else:
                self.prior_ = (_share(y_lab[~support], positive) if self.prior == "source"
                               else float(self.prior))
        return self

    def _fit_per_system(self, Z, g_lab, Z_unlabelled, g_unlabelled):
        """Fit ``per_system`` on each system's rows, labelled and not; transform both parts."""
        self.system_transformers_ = {
            system: clone(self.per_system).fit(_vstack(
                [_rows(Z, g_lab == system), _rows(Z_unlabelled, g_unlabelled == system)]))
            for system in dict.fromkeys([*g_lab, *g_unlabelled])}
        return (_transform_by(self.system_transformers_, Z, g_lab),
                _transform_by(self.system_transformers_, Z_unlabelled, g_unlabelled))

    def _per_system(self, Z, systems):
        """Rows of a fitted system through its transformer; any other through the target's."""
        transformers = self.system_transformers_
        fallback = self.target if self.target in transformers else (
            next(iter(transformers)) if len(transformers) == 1 else None)
        keys = np.array([s if s in transformers else fallback for s in systems], dtype=object)
        if any(k not in transformers for k in keys):
            raise ValueError(f"a session of a system per_system was not fitted on, and no "
                             f"target to fall back on: fitted {list(transformers)}.")
        return _transform_by(transformers, Z, keys)

    def _transform(self, X):
        check_is_fitted(self, "learner_")
        systems = session_systems(X) if isinstance(X, (list, tuple, np.ndarray)) else None
        Z = self.features_.transform(
            check_sessions(X, allow_numeric=False, estimator=self, copy=False))
        if self.system_transformers_ is None:
            return Z
        return self._per_system(Z, systems if systems is not None else [None] * len(Z))

    def _shifted_proba(self, Z):
        """The learner's probabilities with the odds moved from ``fit_prior_`` to ``prior_``."""
        p = shift_prior(self.learner_.predict_proba(Z)[:, 1], self.fit_prior_, self.prior_)
        return np.column_stack([1 - p, p])

    def _labels(self, Z):
        if self.prior_ is None:
            return self.learner_.predict(Z)
        return self.classes_[(self._shifted_proba(Z)[:, 1] > 0.5).astype(int)]

    def _proba(self, Z):
        return self.learner_.predict_proba(Z) if self.prior_ is None \
            else self._shifted_proba(Z)

    def predict(self, X):
        return self._labels(self._transform(X))

    def predict_proba(self, X):
        return self._proba(self._transform(X))

    def predict_and_proba(self, X):
        """``(predict(X), predict_proba(X))`` from one pass of the features."""
        Z = self._transform(X)
        return self._labels(Z), self._proba(Z)

    def decision_function(self, X):
        Z = self._transform(X)
        if self.prior_ is not None:
            p = self._shifted_proba(Z)[:, 1]
            return np.log(p) - np.log1p(-p)
        if hasattr(self.learner_, "decision_function"):
            return self.learner_.decision_function(Z)
        p = self.learner_.predict_proba(Z)
        return p[:, 1] if p.shape[1] == 2 else p

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = True
        return tags


def _rows(Z, mask):
    """The rows of ``Z`` (dense or sparse) where ``mask`` holds."""
    return Z[np.flatnonzero(mask)]


def _vstack(blocks):
    return sparse.vstack(blocks, format="csr") if any(map(sparse.issparse, blocks)) \
        else np.vstack(blocks)


def _transform_by(transformers, Z, keys):
    """Each row of ``Z`` through ``transformers[its key]``, rows kept in order (dense or
    sparse, any output width)."""
    keys = np.asarray(keys, dtype=object)
    if sparse.issparse(Z):
        Z = Z.tocsr()
    groups = [np.flatnonzero(keys == key) for key in dict.fromkeys(keys)]
    if not groups:
        return Z
    out = _vstack([transformers[keys[rows[0]]].transform(Z[rows]) for rows in groups])
    inverse = np.empty(len(keys), dtype=np.intp)
    inverse[np.concatenate(groups)] = np.arange(len(keys))
    return out[inverse]
