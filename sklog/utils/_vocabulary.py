"""Template vocabulary shared by every sequence model.

Template strings, not integer ids, flow between pipeline steps (GUIDE 1), so
each estimator builds its own vocabulary in ``fit``. Encoding is vectorised:
each *unique* template is looked up once per call, not once per event.
"""

from __future__ import annotations

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
        flat = [t for s in sessions for t in s]
        uniques, counts = np.unique(np.asarray(flat, dtype=object).astype(str), return_counts=True)
        order = np.lexsort((uniques, -counts))  # most frequent first, ties by text
        keep = [(uniques[i], int(counts[i])) for i in order if counts[i] >= self.min_count]
        self.templates_ = [str(t) for t, _ in keep]
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
        flat = [t for s in sessions for t in s]
        if not flat:
            return np.zeros(0, dtype=np.int64), lengths
        uniques, inverse = np.unique(np.asarray(flat, dtype=object).astype(str), return_inverse=True)
        lookup = np.array([self.index_.get(u, OOV_ID) for u in uniques], dtype=np.int64)
        return lookup[inverse.ravel()], lengths

    def encode(self, sessions):
        """Return a list of 1-D int64 arrays, one per session."""
        ids, lengths = self.encode_flat(sessions)
        return np.split(ids, np.cumsum(lengths)[:-1]) if len(lengths) else []

    def decode(self, ids):
        """Template strings for ids (``'<PAD>'`` and ``'<OOV>'`` for the reserved ones)."""
        names = ["<PAD>", "<OOV>", *self.templates_]
        return [names[i] for i in ids]


def pad_sequences(sequences, max_length=None, *, truncating="post", pad_value=PAD_ID):
    """Stack integer sequences into a ``(n, max_length)`` array plus true lengths.

    ``truncating='post'`` keeps the first ``max_length`` events, ``'pre'`` the
    last. Empty sequences stay all padding, with length 0.
    """
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if max_length is None:
        max_length = max(int(lengths.max(initial=0)), 1)
    out = np.full((len(sequences), max_length), pad_value, dtype=np.int64)
    for i, seq in enumerate(sequences):
        seq = seq[:max_length] if truncating == "post" else seq[-max_length:]
        out[i, : len(seq)] = seq
    return out, np.minimum(lengths, max_length)
