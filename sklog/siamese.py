"""Siamese LSTM log anomaly classifier (Hashemi and Mäntylä; journal version SiaLog).

A shared-weight LSTM encoder is trained on *pairs* of sessions so that the
embeddings of two sessions of the same class have a large dot product and
those of different classes a small one (``sim(x1, x2) = sigmoid(x1 . x2)``,
binary cross-entropy on pairs). Any scikit-learn classifier is then fitted on
the learned embeddings. Pairs are drawn by the paper's K+1 rule (one
same-class and ``K`` different-class partners per session, resampled every
epoch), which needs far fewer pairs than every pair for the same quality.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, _fit_context, clone
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .utils import (
    TemplateVocabulary,
    check_session_labels,
    check_sessions,
    pad_sequences,
    resolve_device,
    seed_from_random_state,
    to_numpy,
    torch_seed,
)

#: The paper's two architectures. ``large``: embedding, three LSTM layers
#: (192, 192, 64) and dense layers (348, 640, 64); ``low_cost``: embedding 24,
#: one bidirectional LSTM of 32 units per direction, dense (64, 64, 64).
ARCHITECTURES = {
    "large": {
        "embedding_dim": 64,
        "lstm_units": (192, 192, 64),
        "bidirectional": False,
        "dense_units": (348, 640, 64),
    },
    "low_cost": {
        "embedding_dim": 24,
        "lstm_units": (32,),
        "bidirectional": True,
        "dense_units": (64, 64, 64),
    },
}


class PairCountWarning(UserWarning):
    """``pairs='all'`` would create more pairs than ``max_pairs``; a random subset is used."""


def kpone_pairs(y, n_negatives, rng):
    """The K+1 pairs: for every session one same-class and ``K`` different-class partners.

    Returns an ``(n * (K + 1), 2)`` array of session indices; the same-class
    partner is never the session itself when its class has another member.

    Examples
    --------
    >>> import numpy as np
    >>> from sklog.siamese import kpone_pairs
    >>> kpone_pairs(np.array([0, 0, 1, 1]), 3, np.random.RandomState(0)).shape
    (16, 2)
    """
    from .nn._pairs import kpone_pairs as pairs

    return pairs(y, n_negatives, rng)


def all_pairs(n, max_pairs, rng):
    """Every unordered pair of ``n`` sessions, or ``max_pairs`` drawn at random when more."""
    from .nn._pairs import all_pairs as pairs

    return pairs(n, max_pairs, rng)


def _set_unset_random_states(estimator, seed):
    """Seed every ``random_state`` left at ``None`` in a cloned classifier (as bagging does)."""
    params = {
        key: seed
        for key, value in estimator.get_params(deep=True).items()
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    if params:
        estimator.set_params(**params)
    return estimator


def _default_classifier():
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=300))


def _classifier_has(attr):
    def check(self):
        if self.hybrid:
            return attr == "predict_proba"
        clf = self.classifier_ if hasattr(self, "classifier_") else self.classifier
        return hasattr(_default_classifier() if clf is None else clf, attr)

    return check


class SiameseClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Siamese LSTM log anomaly classifier on sessions of template strings.

    An LSTM encoder with shared weights embeds both sessions of a pair; the
    pair's similarity is ``sigmoid(x1 . x2)``, trained with binary
    cross-entropy to be 1 for same-class pairs and 0 otherwise (or with a
    contrastive loss). A scikit-learn ``classifier`` is then fitted on the
    embeddings of the training sessions. ``transform`` returns the
    embeddings, so the model also feeds :class:`sklog.drift.DriftMonitor` and
    :func:`sklog.plotting.plot_embedding`.

    Parameters
    ----------
    architecture : {"low_cost", "large"}, default="low_cost"
        The paper's presets (see :data:`ARCHITECTURES`). ``low_cost``:
        embedding 24, one BiLSTM of 32 units per direction, dense 64/64/64;
        ``large``: embedding 64, LSTM 192/192/64, dense 348/640/64.
    embedding_dim, lstm_units, bidirectional, dense_units : optional
        Override the preset's value when not ``None`` (free configuration).
        ``lstm_units`` and ``dense_units`` are tuples of layer widths.
    pairs : {"kpone", "all"}, default="kpone"
        ``"kpone"``: per session one same-class and ``n_negatives``
        different-class partners, resampled every epoch
        (``(K + 1) * n_sessions`` pairs). ``"all"``: every pair; when there are
        more than ``max_pairs`` a random ``max_pairs`` of them are drawn each
        epoch, with a :class:`PairCountWarning` (the count grows quadratically).
    n_negatives : int, default=3
        ``K`` of the K+1 rule.
    max_pairs : int, default=200_000
        Cap on the pairs per epoch for ``pairs="all"``.
    loss : {"bce", "contrastive"}, default="bce"
        Binary cross-entropy on ``sigmoid(x1 . x2)``, or the contrastive loss
        on the Euclidean distance with ``margin``.
    margin : float, default=1.0
    classifier : classifier or None, default=None
        Fitted (as a clone) on the embeddings. ``None``: standard scaling and a
        small MLP (32 hidden units), the paper's best performer. KNN, SVM,
        logistic regression work as given. A ``random_state`` left at ``None``
        in it is seeded from ``random_state``.
    hybrid : bool, default=False
        Train a linear class head end to end with the pair loss plus
        cross-entropy; its probabilities are then used directly and
        ``classifier`` is ignored.
    max_length : int or None, default=None
        Sessions are cut to their first ``max_length`` events (``None``: no cut).
    max_epochs : int, default=20
    batch_size : int, default=128
        Pairs per batch.
    lr : float, default=1e-3
        Adam learning rate.
    dropout : float, default=0.0
    validation_fraction : float, default=0.1
        Share of the training sessions (stratified, seeded) held out for early
        stopping on the validation pair loss. ``0`` trains ``max_epochs`` epochs.
    patience : int, default=3
        Epochs without improvement before early stopping; the best weights are kept.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available.
    verbose : int, default=0
        Print skorch's epoch log and a progress bar when positive.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained pair network (``net_.module_.encoder`` embeds sessions).
    classifier_ : estimator or None
        The fitted clone of ``classifier`` (``None`` in hybrid mode).
    vocabulary_ : TemplateVocabulary
    classes_ : ndarray
    n_pairs_ : int
        Training pairs per epoch.
    n_possible_pairs_ : int
        Unordered pairs of training sessions, ``n (n - 1) / 2``.

    Examples
    --------
    >>> from sklog import SiameseClassifier
    >>> X = [["open", "read", "close"]] * 10 + [["open", "error"]] * 10
    >>> y = [0] * 10 + [1] * 10
    >>> clf = SiameseClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict([["open", "error"], ["open", "read", "close"]]).tolist()
    [1, 0]
    >>> clf.transform(X).shape
    (20, 64)
    """

    _parameter_constraints = {
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "lstm_units": ["array-like", None],
        "bidirectional": ["boolean", None],
        "dense_units": ["array-like", None],
        "pairs": [StrOptions({"kpone", "all"})],
        "n_negatives": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_pairs": [Interval(numbers.Integral, 1, None, closed="left")],
        "loss": [StrOptions({"bce", "contrastive"})],
        "margin": [Interval(numbers.Real, 0, None, closed="neither")],
        "classifier": [HasMethods(["fit", "predict"]), None],
        "hybrid": ["boolean"],
        "max_length": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        architecture="low_cost",
        *,
        embedding_dim=None,
        lstm_units=None,
        bidirectional=None,
        dense_units=None,
        pairs="kpone",
        n_negatives=3,
        max_pairs=200_000,
        loss="bce",
        margin=1.0,
        classifier=None,
        hybrid=False,
        max_length=None,
        max_epochs=20,
        batch_size=128,
        lr=1e-3,
        dropout=0.0,
        validation_fraction=0.1,
        patience=3,
        device="auto",
        verbose=0,
        random_state=None,
    ):
        self.architecture = architecture
        self.embedding_dim = embedding_dim
        self.lstm_units = lstm_units
        self.bidirectional = bidirectional
        self.dense_units = dense_units
        self.pairs = pairs
        self.n_negatives = n_negatives
        self.max_pairs = max_pairs
        self.loss = loss
        self.margin = margin
        self.classifier = classifier
        self.hybrid = hybrid
        self.max_length = max_length
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.dropout = dropout
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    def _encoder_kwargs(self, n_templates):
        preset = dict(ARCHITECTURES[self.architecture])
        for name in ("embedding_dim", "bidirectional"):
            if getattr(self, name) is not None:
                preset[name] = getattr(self, name)
        for name in ("lstm_units", "dense_units"):
            value = getattr(self, name)
            if value is not None:
                units = tuple(int(v) for v in np.atleast_1d(value))
                if any(u < 1 for u in units) or (name == "dense_units" and not units):
                    raise ValueError(
                        f"{name} must hold positive layer widths, got {value!r}."
                    )
                preset[name] = units
        return {
            "n_templates": n_templates,
            "embedding_dim": int(preset["embedding_dim"]),
            "lstm_units": tuple(preset["lstm_units"]),
            "dense_units": tuple(preset["dense_units"]),
            "bidirectional": bool(preset["bidirectional"]),
            "dropout": float(self.dropout),
        }

    def _encode(self, sessions):
        ids, lengths = pad_sequences(self.vocabulary_.encode(sessions), self.max_length)
        return ids, lengths

    # ---------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Train the pair network on ``(X, y)``, then the classifier on the embeddings.

        Parameters
        ----------
        X : sequence of sessions (sequences of template strings)
        y : array-like of shape (n_sessions,)
            Any two or more labels; by the data contract ``1`` is the anomaly.

        Returns
        -------
        self
        """
        import torch
        from skorch.callbacks import EarlyStopping, GradientNormClipping, ProgressBar
        from skorch.helper import predefined_split

        sessions = check_sessions(X, estimator=self)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None "
                "(one label per session)."
            )
        y = check_session_labels(column_or_1d(y, warn=True), len(sessions))
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes to form pairs; got 1 class "
                f"({self.classes_[0]!r})."
            )
        rng = check_random_state(self.random_state)
        seed = seed_from_random_state(rng)
        device = resolve_device(self.device)

        self.vocabulary_ = TemplateVocabulary().fit(sessions)
        ids, lengths = self._encode(sessions)
        encoder_kwargs = self._encoder_kwargs(self.vocabulary_.size)

        # Seeded stratified validation split of the *training* sessions for early stopping.
        n = len(sessions)
        counts = np.bincount(labels)
        use_valid = (
            self.validation_fraction > 0
            and counts.min() >= 2
            and int(round(self.validation_fraction * n)) >= len(counts)
            and n - int(round(self.validation_fraction * n)) >= len(counts)
        )
        if use_valid:
            train_idx, valid_idx = train_test_split(
                np.arange(n), test_size=self.validation_fraction, stratify=labels,
                random_state=seed,
            )
        else:
            train_idx, valid_idx = np.arange(n), None

        if self.pairs == "all" and len(train_idx) * (len(train_idx) - 1) // 2 > self.max_pairs:
            warnings.warn(
                f"pairs='all' on {len(train_idx)} sessions makes "
                f"{len(train_idx) * (len(train_idx) - 1) // 2} pairs (quadratic growth); "
                f"a random {self.max_pairs} (max_pairs) are drawn each epoch. "
                "pairs='kpone' needs (K+1) pairs per session.",
                PairCountWarning,
                stacklevel=2,
            )
        from .nn._pairs import PairDataset, ResamplePairs, SiameseNet, silent

        def pair_dataset(rows, rng):
            return PairDataset(ids[rows], lengths[rows], labels[rows], self.pairs,
                               self.n_negatives, self.max_pairs, rng)

        train_ds = pair_dataset(train_idx, np.random.RandomState(seed))
        self.n_pairs_ = len(train_ds)
        self.n_possible_pairs_ = n * (n - 1) // 2

        callbacks = [
            ("resample_pairs", ResamplePairs()),
            # dot-product similarities can grow without bound; clipping keeps Adam stable
            ("gradient_clipping", GradientNormClipping(gradient_clip_value=1.0)),
        ]
        if valid_idx is not None:
            # fixed validation pairs, drawn once from the held-out sessions only
            train_split = predefined_split(pair_dataset(valid_idx, np.random.RandomState(seed + 1)))
            monitor = "valid_loss"
        else:
            train_split, monitor = None, "train_loss"
        callbacks.append(
            ("early_stopping", EarlyStopping(monitor=monitor, patience=self.patience,
                                             load_best=True, sink=silent))
        )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar(batches_per_epoch="count")))

        from .nn import SiamesePairModule

        with torch_seed(seed, device):
            self.net_ = SiameseNet(
                SiamesePairModule,
                module__encoder_kwargs=encoder_kwargs,
                module__n_classes=len(self.classes_) if self.hybrid else None,
                criterion=torch.nn.BCEWithLogitsLoss,
                optimizer=torch.optim.Adam,
                lr=self.lr,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                pair_loss=self.loss,
                margin=self.margin,
                pair_seed=seed,
                train_split=train_split,
                callbacks=callbacks,
                device=device,
                verbose=int(self.verbose),
            )
            self.net_.fit(train_ds, y=None)
        # drop the references to the training pairs, so the fitted model pickles small
        self.net_.train_split = None

        if self.hybrid:
            self.classifier_ = None
        else:
            clf = _default_classifier() if self.classifier is None else clone(self.classifier)
            self.classifier_ = _set_unset_random_states(clf, seed)
            self.classifier_.fit(self._embed(ids, lengths), self.classes_[labels])
        return self

    # ----------------------------------------------------------------- inference
    def _forward_batches(self, ids, lengths, fn, batch_size=1024):
        """Run ``fn(encoder, ids, lengths)`` over batches sorted by length (bounded memory)."""
        import torch

        module = self.net_.module_
        module.eval()
        order = np.argsort(lengths, kind="stable")
        outputs = []
        device = self.net_.device
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                width = max(int(lengths[rows].max(initial=0)), 1)
                x = torch.as_tensor(ids[rows, :width], device=device)
                lx = torch.as_tensor(lengths[rows], device=device)
                outputs.append(to_numpy(fn(module, x, lx)))
        if not outputs:
            return np.zeros((0,))
        out = np.concatenate(outputs)
        result = np.empty_like(out)
        result[order] = out
        return result

    def _embed(self, ids, lengths):
        return self._forward_batches(
            ids, lengths, lambda m, x, lx: m.encoder(x, lx)
        ).astype(np.float32, copy=False)

    def _head_proba(self, ids, lengths):
        import torch

        return self._forward_batches(
            ids, lengths, lambda m, x, lx: torch.softmax(m.head(m.encoder(x, lx)), dim=-1)
        ).astype(np.float64)

    def _prepare(self, X):
        check_is_fitted(self, "net_")
        return self._encode(check_sessions(X, estimator=self))

    def transform(self, X):
        """The learned session embeddings, ``(n_sessions, embedding_size)`` float32.

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        ndarray
        """
        return self._embed(*self._prepare(X))

    def predict(self, X):
        """Labels (those given in ``y``) of the sessions.

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        ndarray of shape (n_sessions,)
        """
        ids, lengths = self._prepare(X)
        if self.hybrid:
            return self.classes_[np.argmax(self._head_proba(ids, lengths), axis=1)]
        return self.classifier_.predict(self._embed(ids, lengths))

    @available_if(_classifier_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        ndarray of shape (n_sessions, n_classes)
        """
        ids, lengths = self._prepare(X)
        if self.hybrid:
            return self._head_proba(ids, lengths)
        return self.classifier_.predict_proba(self._embed(ids, lengths))

    @available_if(_classifier_has("decision_function"))
    def decision_function(self, X):
        """The classifier's decision function on the embeddings.

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        ndarray
        """
        ids, lengths = self._prepare(X)
        return self.classifier_.decision_function(self._embed(ids, lengths))

    def _anomaly_scores(self, ids, lengths):
        pos = list(self.classes_).index(1) if 1 in list(self.classes_) else -1
        if self.hybrid:
            return self._head_proba(ids, lengths)[:, pos]
        z = self._embed(ids, lengths)
        if hasattr(self.classifier_, "predict_proba"):
            return self.classifier_.predict_proba(z)[:, pos]
        scores = np.asarray(self.classifier_.decision_function(z), dtype=float)
        if scores.ndim == 1:
            return scores if pos == -1 or pos == len(self.classes_) - 1 else -scores
        return scores[:, pos]

    def explain(self, X):
        """Per-position influence on the anomaly score, by occlusion (deletion).

        For every event of a session the session is scored again with that
        event removed; the event's value is ``score(session) - score(session
        without it)``, where the score is the probability of the anomaly class
        (label ``1``, else the last class) or the classifier's decision
        function. Positive values push towards the anomaly. Occlusion works
        with any ``classifier``, which gradients would not (an SVM or KNN head
        has none). Events past ``max_length`` get 0.

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        list of ndarray
            One float array per session, one value per event.
        """
        check_is_fitted(self, "net_")
        sessions = check_sessions(X, estimator=self)
        encoded = self.vocabulary_.encode(sessions)
        if self.max_length is not None:
            encoded = [e[: self.max_length] for e in encoded]
        variants = list(encoded)
        owners = []
        for i, e in enumerate(encoded):
            if not len(e):
                continue
            keep = ~np.eye(len(e), dtype=bool)
            variants.extend(np.broadcast_to(e, (len(e), len(e)))[keep].reshape(len(e), -1))
            owners.extend([i] * len(e))
        ids, lengths = pad_sequences(variants)
        scores = self._anomaly_scores(ids, lengths)
        base, occluded = scores[: len(encoded)], scores[len(encoded) :]
        result, start = [], 0
        for i, (session, e) in enumerate(zip(sessions, encoded, strict=True)):
            values = np.zeros(len(session), dtype=np.float64)
            values[: len(e)] = base[i] - occluded[start : start + len(e)]
            start += len(e)
            result.append(values)
        return result

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = True
        tags.transformer_tags.preserves_dtype = []
        tags.non_deterministic = False
        return tags
