"""The one shape of every neural estimator on sessions of templates.

:class:`SessionModelMixin` holds what the methods share, so a method's
``fit`` reads as its method: the template vocabulary (unseen templates map
to the out-of-vocabulary id), vectorised encoding and padding, device and
seed resolution, building the skorch net with the shared callbacks, chunked
and length-sorted inference through skorch, and the mapping of per-position
explanations back to the lines of each session.

Per-template vectors (text embeddings of template strings) travel with the
ids: an estimator with ``template_embedding="semantic"`` or ``"both"`` (or
one that overrides :meth:`SessionModelMixin._template_vectors`) gets every
inference batch's ``"vectors"`` as well, and templates unseen in training
are embedded from their text rather than collapsed into one id. The module
reads them through :class:`sklog.nn.TemplateEmbedding`.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, StrOptions

from ..utils import (
    TemplateVocabulary,
    check_sessions,
    resolve_device,
    seed_from_random_state,
    torch_seed,
    torch_threads,
)
from ._data import SessionDataset
from ._embedding import TEMPLATE_EMBEDDINGS

#: Activation bytes per inference batch at most. Larger batches leave the CPU caches:
#: ALogSCAN scored 1,007 sessions/s in 1 GiB batches, 2,272 in 64 MiB ones (one core).
BATCH_ACTIVATION_BYTES = 64 * 2**20


class SessionModelMixin:
    """Shared plumbing of neural estimators on sessions of template strings.

    Mix in before ``BaseEstimator``. The estimator must have the parameters
    ``device``, ``random_state``, ``verbose`` and ``n_jobs``, and may have
    ``template_embedding`` (see :data:`TEMPLATE_EMBEDDINGS`) with ``embedder``
    (a :class:`~sklog.feature_extraction.BertEmbedder`-like object with
    ``embed_templates``; ``None``: the packaged Sentence-BERT). Subclasses set
    ``max_length_`` (``None``: no cut) before encoding, and may override
    :meth:`_template_vectors` and :meth:`_bytes_per_event`.
    """

    #: parameter constraints of ``template_embedding`` and ``embedder``, for estimators
    #: that expose them
    _template_embedding_constraints = {
        "template_embedding": [StrOptions(set(TEMPLATE_EMBEDDINGS))],
        "embedder": [HasMethods(["embed_templates"]), None],
    }

    # ------------------------------------------------------------------ fit
    def _start_fit(self, X):
        """Validate ``X``, resolve ``device_``, fit ``vocabulary_``; return ``(sessions, seed)``."""
        sessions = check_sessions(X, estimator=self)
        seed = seed_from_random_state(self.random_state)
        self.device_ = resolve_device(self.device)
        self.vocabulary_ = TemplateVocabulary().fit(sessions)
        self.embedder_ = self._resolve_embedder()
        vectors = self._template_vectors(self.vocabulary_.templates_)
        self.template_vectors_ = None if vectors is None else self._with_reserved_rows(vectors)
        return sessions, seed

    def _make_net(self, net_class, *, callbacks=(), **kwargs):
        """The skorch net with the shared settings (device, verbosity, progress bar)."""
        from skorch.callbacks import ProgressBar

        callbacks = list(callbacks)
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar(batches_per_epoch="count")))
        return net_class(callbacks=callbacks, device=self.device_, verbose=int(self.verbose),
                         **kwargs)

    @contextlib.contextmanager
    def _seeded(self, seed):
        """Training under ``seed`` (module initialisation, batch order) and ``n_jobs``
        threads; the caller's RNG and thread setting are restored afterwards."""
        with torch_seed(seed, self.device_), self._threads():
            yield

    def _threads(self):
        """torch's threads = ``effective_n_jobs(n_jobs)`` (``None``: 1) (:func:`torch_threads`)."""
        return torch_threads(getattr(self, "n_jobs", None))

    # ------------------------------------------------------------- encoding
    def _sessions(self, X):
        """Validated sessions of a fitted model (the predict-side gate)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "net_")
        return check_sessions(X, estimator=self)

    def _encode(self, sessions):
        """``(ids, lengths, vectors)``: padded ids cut at ``max_length_``, and the vector
        table when the method embeds template texts (unseen templates get new ids)."""
        if self.template_vectors_ is None:
            ids, lengths = self.vocabulary_.encode_padded(sessions, self.max_length_)
            return ids, lengths, None
        vocabulary, table = self.vocabulary_, self.template_vectors_
        unseen = sorted({t for s in sessions for t in s if t not in vocabulary.index_})
        if unseen:  # embed each unseen template once, under a temporary id
            vocabulary = copy.copy(vocabulary)
            vocabulary.index_ = {**vocabulary.index_,
                                 **{t: table.shape[0] + i for i, t in enumerate(unseen)}}
            table = np.vstack([table, self._template_vectors(unseen)]).astype(np.float32)
        ids, lengths = vocabulary.encode_padded(sessions, self.max_length_)
        return ids, lengths, table

    def _resolve_embedder(self):
        """A private copy of ``embedder`` when template texts are embedded, else ``None``."""
        if getattr(self, "template_embedding", "learned") == "learned":
            return None
        if getattr(self, "embedder", None) is not None:
            return clone(self.embedder)
        from ..feature_extraction import BertEmbedder

        return BertEmbedder()

    def _template_vectors(self, templates):
        """Vectors for template strings, ``(len(templates), d)``, or ``None`` (ids only)."""
        if getattr(self, "embedder_", None) is None:
            return None
        return self.embedder_.embed_templates(list(templates))

    def _embedding_module_kwargs(self):
        """``mode`` and ``table`` of the net's :class:`TemplateEmbedding`."""
        return {"mode": getattr(self, "template_embedding", "learned"),
                "table": self.template_vectors_}

    @staticmethod
    def _with_reserved_rows(vectors):
        """Prepend zero rows for the padding and out-of-vocabulary ids."""
        vectors = np.asarray(vectors, dtype=np.float32)
        return np.vstack([np.zeros((2, vectors.shape[1]), np.float32), vectors])

    # ------------------------------------------------------------ inference
    def _bytes_per_event(self):
        """Rough activation memory per event at inference; sizes the chunks."""
        return 4096

    def _chunk_size(self, width):
        """Sessions per inference batch: activations within scikit-learn's ``working_memory``
        and within :data:`BATCH_ACTIVATION_BYTES`, past which batches only lose speed."""
        budget = min(sklearn.get_config()["working_memory"] * 2**20, BATCH_ACTIVATION_BYTES)
        per_event = self._bytes_per_event()
        if self.template_vectors_ is not None:  # the batch's gathered text vectors
            per_event += 4 * self.template_vectors_.shape[1]
        return max(1, int(budget // (max(width, 1) * per_event)))

    def _forward(self, encoded, fn, *, desc="scoring"):
        """``fn(output)`` of the net on every session, in chunks sorted by length.

        ``encoded`` is what :meth:`_encode` returns; ``fn`` turns one batch's
        module output into an array with one row per session. Rows come back
        in the input order.
        """
        import torch

        ids, lengths, vectors = encoded
        n = len(ids)
        order = np.argsort(lengths, kind="stable")
        width = max(int(lengths.max(initial=0)), 1)
        dataset = SessionDataset(ids[order], lengths[order], vectors=vectors,
                                 batch_size=self._chunk_size(width))
        outputs = self.net_.forward_iter(dataset, training=False, device=self.net_.device)
        if self.verbose and n:
            from tqdm.auto import tqdm

            outputs = tqdm(outputs, desc=desc, total=-(-n // dataset.batch_size), leave=False)
        with torch.no_grad(), self._threads():
            parts = [np.asarray(fn(out)) for out in outputs]
        if not parts:
            return np.zeros((0,))
        result = np.concatenate(parts)
        unsorted = np.empty_like(result)
        unsorted[order] = result
        return unsorted

    def _explain_by_deletion(self, sessions, scores):
        """Per line, ``score(session) - score(session without that line)``.

        ``scores(encoded)`` gives anomaly scores (higher = more anomalous). Every
        session and all its one-line-shorter variants are scored together, in
        chunks of about one inference batch; lines past ``max_length_`` get 0.
        Works for any score, differentiable or not.
        """
        ids, lengths, vectors = self._encode(sessions)
        # a chunk's sessions and their variants: sum(lengths + 1) rows of ids.shape[1] events
        budget = self._chunk_size(ids.shape[1])
        ends = np.cumsum(lengths + 1)
        values, start = [], 0
        while start < len(ids):
            stop = max(start + 1, int(np.searchsorted(ends, ends[start - 1] + budget
                                                      if start else budget, side="right")))
            flat = _deletion_effects(ids[start:stop], lengths[start:stop], vectors, scores)
            values.extend(np.split(flat, np.cumsum(lengths[start:stop])[:-1]))
            start = stop
        return self._per_line(values, sessions)

    @staticmethod
    def _per_line(values, sessions):
        """Per-position values ``(n, width)`` -> one array per session of its full length
        (events past ``max_length_`` get 0)."""
        out = []
        for row, session in zip(values, sessions, strict=True):
            full = np.zeros(len(session), dtype=np.float64)
            k = min(len(session), len(row))
            full[:k] = row[:k]
            out.append(full)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True  # sklearn's checks send arrays: rows of tokens
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags


def _deletion_effects(ids, lengths, vectors, scores):
    """``score(session) - score(session without event j)`` for every event j, flattened."""
    owner = np.repeat(np.arange(len(ids)), lengths)
    dropped = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = np.arange(ids.shape[1])[None, :]
    source = np.minimum(cols + (cols >= dropped[:, None]), ids.shape[1] - 1)
    shorter = lengths[owner] - 1
    variants = np.where(cols < shorter[:, None], ids[owner[:, None], source], 0)
    result = scores((np.vstack([ids, variants]), np.concatenate([lengths, shorter]), vectors))
    return result[: len(ids)][owner] - result[len(ids):]
