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
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from .nn import SessionModelMixin, SessionNet, all_pairs, kpone_pairs
from .utils import check_session_labels, to_numpy

__all__ = ["ARCHITECTURES", "PairCountWarning", "SiameseClassifier", "all_pairs", "kpone_pairs"]

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


class SiameseClassifier(SessionModelMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
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
    template_embedding : {"learned", "semantic", "both"}, default="learned"
        How a template enters the LSTM: a learned vector per training
        template (unseen ones share the out-of-vocabulary vector), its frozen
        Sentence-BERT vector projected to ``embedding_dim`` (unseen templates
        get their own vector from their text), or the sum of both. See
        :class:`sklog.nn.TemplateEmbedding`.
    embedder : BertEmbedder or None, default=None
        Embeds template texts when ``template_embedding`` is not
        ``"learned"``; ``None``: :class:`~sklog.feature_extraction.BertEmbedder`
        with the packaged all-MiniLM-L6-v2.
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
    n_jobs : int or None, default=None
        Threads torch uses on CPU during ``fit`` and inference (``None``: 1,
        ``-1``: all cores, as in scikit-learn). These models are too small to
        gain from more, and on a busy machine more threads slow them down.
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
        **SessionModelMixin._template_embedding_constraints,
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
        "n_jobs": [numbers.Integral, None],
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
        template_embedding="learned",
        embedder=None,
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
        n_jobs=None,
        verbose=0,
        random_state=None,
    ):
        self.architecture = architecture
        self.embedding_dim = embedding_dim
        self.lstm_units = lstm_units
        self.bidirectional = bidirectional
        self.dense_units = dense_units
        self.template_embedding = template_embedding
        self.embedder = embedder
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
        self.n_jobs = n_jobs
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
            "embedding": self._embedding_module_kwargs(),
        }

    # ---------------------------------------------------------------------- fit
    def _check_labels(self, y, n):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None "
                "(one label per session)."
            )
        y = check_session_labels(column_or_1d(y, warn=True), n)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes to form pairs; got 1 class "
                f"({self.classes_[0]!r})."
            )
        return labels

    def _held_out_split(self, labels, seed):
        """Seeded stratified split of the training sessions for early stopping."""
        n, counts = len(labels), np.bincount(labels)
        n_valid = int(round(self.validation_fraction * n))
        if (self.validation_fraction > 0 and counts.min() >= 2 and n_valid >= len(counts)
                and n - n_valid >= len(counts)):
            return train_test_split(np.arange(n), test_size=self.validation_fraction,
                                    stratify=labels, random_state=seed)
        return np.arange(n), None

    def _warn_pair_count(self, n_train):
        n_all = n_train * (n_train - 1) // 2
        if self.pairs == "all" and n_all > self.max_pairs:
            warnings.warn(
                f"pairs='all' on {n_train} sessions makes {n_all} pairs (quadratic growth); "
                f"a random {self.max_pairs} (max_pairs) are drawn each epoch. "
                "pairs='kpone' needs (K+1) pairs per session.",
                PairCountWarning,
                stacklevel=3,
            )

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
        from skorch.callbacks import EarlyStopping, GradientNormClipping
        from skorch.helper import predefined_split

        from .nn import PairDataset, ResamplePairs, SiameseModule, silent

        sessions, seed = self._start_fit(X)
        labels = self._check_labels(y, len(sessions))
        self.max_length_ = self.max_length
        ids, lengths, _ = self._encode(sessions)  # training ids: vectors from the net's table
        train_idx, valid_idx = self._held_out_split(labels, seed)
        self._warn_pair_count(len(train_idx))

        def pairs_of(rows, pair_seed):
            return PairDataset(ids[rows], lengths[rows], labels[rows], self.pairs,
                               self.n_negatives, self.max_pairs, np.random.RandomState(pair_seed))

        train_pairs = pairs_of(train_idx, seed)
        self.n_pairs_ = len(train_pairs)
        self.n_possible_pairs_ = len(ids) * (len(ids) - 1) // 2
        callbacks = [
            ("resample_pairs", ResamplePairs()),
            # dot-product similarities can grow without bound; clipping keeps Adam stable
            ("gradient_clipping", GradientNormClipping(gradient_clip_value=1.0)),
            ("early_stopping", EarlyStopping(
                monitor="train_loss" if valid_idx is None else "valid_loss",
                patience=self.patience, load_best=True, sink=silent)),
        ]
        self.net_ = self._make_net(
            _SiameseNet, module=SiameseModule,
            module__encoder_kwargs=self._encoder_kwargs(self.vocabulary_.size),
            module__n_classes=len(self.classes_) if self.hybrid else None,
            criterion=torch.nn.BCEWithLogitsLoss, optimizer=torch.optim.Adam, lr=self.lr,
            max_epochs=self.max_epochs, batch_size=self.batch_size, callbacks=callbacks,
            pair_loss=self.loss, margin=self.margin, bucket_seed=seed,
            # fixed validation pairs, drawn once from the held-out sessions only
            train_split=None if valid_idx is None else predefined_split(
                pairs_of(valid_idx, seed + 1)),
        )
        with self._seeded(seed):
            self.net_.fit(train_pairs, y=None)
        self.net_.train_split = None  # no reference to the training data in the pickle

        self.classifier_ = None
        if not self.hybrid:
            clf = _default_classifier() if self.classifier is None else clone(self.classifier)
            self.classifier_ = _set_unset_random_states(clf, seed)
            self.classifier_.fit(self._embed((ids, lengths, None)), self.classes_[labels])
        return self

    # ----------------------------------------------------------------- inference
    def _bytes_per_event(self):
        # embedding plus every LSTM layer's outputs (float32, both directions)
        encoder = self.net_.module_.encoder
        units = sum(lstm.hidden_size * (2 if lstm.bidirectional else 1) for lstm in encoder.lstms)
        return 4 * (encoder.embedding.dim + 2 * units)

    def _embed(self, encoded):
        return self._forward(encoded, lambda out: to_numpy(out[0])).astype(np.float32, copy=False)

    def _head_proba(self, encoded):
        import torch

        return self._forward(
            encoded, lambda out: to_numpy(torch.softmax(out[1], dim=-1))
        ).astype(np.float64)

    def transform(self, X):
        """The learned session embeddings, ``(n_sessions, embedding_size)`` float32.

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        ndarray
        """
        return self._embed(self._encode(self._sessions(X)))

    def predict(self, X):
        """Labels (those given in ``y``) of the sessions.

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        ndarray of shape (n_sessions,)
        """
        return self._classify(X, "predict")

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
        return self._classify(X, "predict_proba")

    @available_if(_classifier_has("predict_proba"))
    def predict_and_proba(self, X):
        """``(predict(X), predict_proba(X))`` from one pass of the network.

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        labels : ndarray of shape (n_sessions,)
        proba : ndarray of shape (n_sessions, n_classes)
        """
        encoded = self._encode(self._sessions(X))
        if self.hybrid:
            proba = self._head_proba(encoded)
            return self.classes_[np.argmax(proba, axis=1)], proba
        z = self._embed(encoded)
        return self.classifier_.predict(z), self.classifier_.predict_proba(z)

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
        return self._classify(X, "decision_function")

    def _classify(self, X, method):
        """``method`` of the embedding classifier, or of the class head in hybrid mode."""
        encoded = self._encode(self._sessions(X))
        if not self.hybrid:
            return getattr(self.classifier_, method)(self._embed(encoded))
        proba = self._head_proba(encoded)
        return self.classes_[np.argmax(proba, axis=1)] if method == "predict" else proba

    def _anomaly_scores(self, encoded):
        pos = list(self.classes_).index(1) if 1 in list(self.classes_) else -1
        if self.hybrid:
            return self._head_proba(encoded)[:, pos]
        z = self._embed(encoded)
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
        has none). Events past ``max_length`` get 0. Sessions are explained
        in chunks whose variants fit scikit-learn's ``working_memory``
        (:meth:`~sklog.nn.SessionModelMixin._explain_by_deletion`).

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        list of ndarray
            One float array per session, one value per event.
        """
        return self._explain_by_deletion(self._sessions(X), self._anomaly_scores)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags


class _SiameseNet(SessionNet):
    """skorch net on pairs: BCE on ``sigmoid(z1 . z2)`` or the contrastive loss.

    A batch stacks the first sessions of its pairs over the second ones; with
    a class head (hybrid mode) the cross-entropy of both sides is added.
    """

    def __init__(self, module, *args, pair_loss="bce", margin=1.0, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.pair_loss = pair_loss
        self.margin = margin

    def get_loss(self, y_pred, y_true, X=None, training=False):
        import torch
        import torch.nn.functional as F
        from skorch.utils import to_tensor

        z, logits = y_pred[0], y_pred[1] if len(y_pred) > 1 else None
        n = len(z) // 2
        z1, z2 = z[:n], z[n:]
        y_true = to_tensor(y_true, device=self.device)
        same = y_true[:, 0].float()
        if self.pair_loss == "bce":
            loss = F.binary_cross_entropy_with_logits((z1 * z2).sum(-1), same)
        else:
            dist = torch.sqrt(((z1 - z2) ** 2).sum(-1) + 1e-9)
            loss = (same * dist**2 + (1 - same) * F.relu(self.margin - dist) ** 2).mean()
        if logits is not None:
            loss = loss + 0.5 * (F.cross_entropy(logits[:n], y_true[:, 1])
                                 + F.cross_entropy(logits[n:], y_true[:, 2]))
        return loss
