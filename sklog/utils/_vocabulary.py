"""Template vocabulary shared by every sequence model.

Template strings, not integer ids, flow between pipeline steps (GUIDE 1), so
each estimator builds its own vocabulary in ``fit``. Encoding is one dict
lookup per event, which beats sorting long template strings as arrays.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

PAD_ID = 0
OOV_ID = 1


class TemplateVocabulary:
    """Map template strings to integer ids; id 0 pads, id 1 is out-of-vocabulary.

    Parameters
    ----------
    min_count : int, default=1
        Templates seen fewer times in ``fit`` map to the out-of-vocabulary id.

    Examples
    --------
    >>> from sklog.utils import TemplateVocabulary
    >>> vocab = TemplateVocabulary().fit([["open", "close"], ["open"]])
    >>> vocab.encode([["open", "unseen"]])[0].tolist()
    [2, 1]
    """

    def __init__(self, min_count=1):
        self.min_count = min_count

    def fit(self, sessions):
        # a dict, not np.unique: sorting long template strings as a fixed-width array is slow
        counter = Counter(str(t) for s in sessions for t in s)
        ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        keep = [(t, c) for t, c in ranked if c >= self.min_count]  # most frequent first
        self.templates_ = [t for t, _ in keep]
        self.counts_ = np.array([c for _, c in keep], dtype=np.int64)
        self.index_ = {t: i + 2 for i, t in enumerate(self.templates_)}
        return self

    @property
    def size(self):
        """Number of ids, padding and out-of-vocabulary included."""
        return len(self.templates_) + 2

    def encode_flat(self, sessions):
        """Return ``(ids, lengths)``: all events concatenated, and session lengths."""
        lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64, count=len(sessions))
        index = self.index_
        ids = np.fromiter((index.get(t if type(t) is str else str(t), OOV_ID)
                           for s in sessions for t in s),
                          dtype=np.int64, count=int(lengths.sum()))
        return ids, lengths

    def encode(self, sessions):
        """Return a list of 1-D int64 arrays, one per session."""
        ids, lengths = self.encode_flat(sessions)
        return np.split(ids, np.cumsum(lengths)[:-1]) if len(lengths) else []

    def encode_padded(self, sessions, max_length=None, *, truncating="post"):
        """``(ids, lengths)``: a ``(n, width)`` 0-padded id matrix and true lengths (see
        :func:`pad_sequences`), without a per-session Python loop."""
        return _pad_flat(*self.encode_flat(sessions), max_length, truncating=truncating)

    def decode(self, ids):
        """Template strings for ids (``'<PAD>'`` and ``'<OOV>'`` for the reserved ones)."""
        names = ["<PAD>", "<OOV>", *self.templates_]
        return [names[i] for i in ids]


def pad_sequences(sequences, max_length=None, *, truncating="post", pad_value=PAD_ID):
    """Stack integer sequences into a ``(n, max_length)`` array plus true lengths.

    ``truncating='post'`` keeps the first ``max_length`` events, ``'pre'`` the
    last. Empty sequences stay all padding, with length 0.
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences]) if len(
        sequences) else np.zeros(0, dtype=np.int64)
    return _pad_flat(flat, lengths, max_length, truncating=truncating, pad_value=pad_value)


def _pad_flat(ids, lengths, max_length=None, *, truncating="post", pad_value=PAD_ID):
    """Scatter concatenated sequences (``ids`` with per-sequence ``lengths``) into a matrix."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if max_length is None:
        max_length = max(int(lengths.max(initial=0)), 1)
    n = len(lengths)
    starts = np.cumsum(lengths) - lengths
    rows = np.repeat(np.arange(n), lengths)
    position = np.arange(len(ids)) - np.repeat(starts, lengths)
    if truncating == "pre":  # keep the last max_length events, shifted to the front
        position = position - np.repeat(np.maximum(lengths - max_length, 0), lengths)
    keep = (position >= 0) & (position < max_length)
    out = np.full((n, max_length), pad_value, dtype=np.int64)
    out[rows[keep], position[keep]] = ids[keep]
    return out, np.minimum(lengths, max_length)
