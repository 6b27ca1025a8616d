"""Sessions as a torch dataset indexed by whole batches, and the length-bucketing sampler.

An LSTM or CNN batch costs as much as its longest session, so batches are
cut from sessions of similar length and each batch is padded only to its own
longest session: one 300-event session no longer makes every batch slow.
"""

from __future__ import annotations

import numpy as np
import torch


class SessionDataset(torch.utils.data.Dataset):
    """Padded template ids and true lengths; ``dataset[rows]`` is one whole batch.

    The batch is ``({"ids": (b, width), "lengths": (b,)}, y)`` with ``width``
    the batch's longest session. With a per-template ``vectors`` table (row
    ``i`` for id ``i``), the batch also holds ``"vectors"`` of shape
    ``(b, width, d)``, so models on template text embeddings share this path.

    Parameters
    ----------
    ids : ndarray of shape (n, max_width), int64
    lengths : ndarray of shape (n,)
    y : ndarray of shape (n,) or None
    vectors : ndarray of shape (n_ids, d) or None
    batch_size : int or None
        Batch size when iterated for inference (:class:`SessionNet` reads it).
    """

    def __init__(self, ids, lengths, y=None, vectors=None, batch_size=None):
        self.ids = torch.as_tensor(ids)
        self.lengths = torch.as_tensor(lengths)
        self.y = None if y is None else torch.as_tensor(y)
        self.vectors = None if vectors is None else torch.as_tensor(vectors)
        self.batch_size = batch_size

    def __len__(self):
        return len(self.ids)

    def item_lengths(self):
        """The length that decides an item's bucket."""
        return self.lengths

    def batch(self, rows):
        """The model input for ``rows``, trimmed to their longest session."""
        lengths = self.lengths[rows]
        width = max(int(lengths.max()), 1) if len(lengths) else 1
        ids = self.ids[rows, :width]
        x = {"ids": ids, "lengths": lengths}
        if self.vectors is not None:
            x["vectors"] = self.vectors[ids]
        return x

    def __getitem__(self, rows):
        return self.batch(rows), None if self.y is None else self.y[rows]


class LengthBucketSampler(torch.utils.data.Sampler):
    """Batches (lists of item indices) of items of similar length.

    Training (a ``generator``): items are shuffled, cut into chunks of 50
    batches, sorted by length within a chunk, and the batches shuffled again,
    so batches stay random while their padding is small. Inference (no
    generator): items in order of length, so the caller can undo the order.
    """

    def __init__(self, dataset, batch_size, generator=None, chunk_batches=50):
        self.dataset, self.batch_size, self.generator = dataset, batch_size, generator
        self.chunk_batches = chunk_batches

    def __len__(self):
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        lengths, n = self.dataset.item_lengths(), len(self.dataset)
        if self.generator is None:
            order = torch.as_tensor(np.argsort(np.asarray(lengths), kind="stable"))
            return iter([b.tolist() for b in order.split(self.batch_size)])
        order = torch.randperm(n, generator=self.generator)
        longer = lengths[order]
        chunk = self.chunk_batches * self.batch_size
        batches = []
        for start in range(0, n, chunk):
            part = order[start : start + chunk]
            part = part[torch.argsort(longer[start : start + chunk], stable=True)]
            batches.extend(part.split(self.batch_size))
        batches = [batches[i] for i in torch.randperm(len(batches), generator=self.generator)]
        return iter([b.tolist() for b in batches])
