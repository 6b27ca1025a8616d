"""Pairs of sessions as skorch data: one stacked batch per pair batch, resampled each epoch."""

from __future__ import annotations

import torch
from skorch.callbacks import Callback

from ._data import SessionDataset
from ._pair_sampling import all_pairs, kpone_pairs


class PairDataset(SessionDataset):
    """Pairs of padded sessions; ``dataset[rows]`` is one batch of pairs.

    The batch stacks the first sessions of the pairs over the second ones
    (``2 * b`` sessions, one encoder call for both sides), and the target of
    each pair is ``(same class, class of first, class of second)``. Batches
    are bucketed by the longer session of each pair. ``resample()`` draws new
    pairs (see :class:`ResamplePairs`).

    Parameters
    ----------
    ids, lengths : arrays ``(n, width)`` and ``(n,)`` of template ids and true lengths
    labels : array ``(n,)`` of class indices
    pairs : {"kpone", "all"}
    n_negatives, max_pairs : int
    rng : numpy RandomState
    """

    def __init__(self, ids, lengths, labels, pairs, n_negatives, max_pairs, rng):
        super().__init__(ids, lengths, y=labels)
        self.mode, self.n_negatives, self.max_pairs, self.rng = pairs, n_negatives, max_pairs, rng
        self.resample()

    def resample(self):
        labels = self.y.numpy()
        if self.mode == "kpone":
            drawn = kpone_pairs(labels, self.n_negatives, self.rng)
        else:
            drawn = all_pairs(len(labels), self.max_pairs, self.rng)
        self.pairs = torch.as_tensor(drawn)

    def __len__(self):
        return len(self.pairs)

    def item_lengths(self):
        return torch.maximum(self.lengths[self.pairs[:, 0]], self.lengths[self.pairs[:, 1]])

    def __getitem__(self, rows):
        a, b = self.pairs[rows, 0], self.pairs[rows, 1]
        ya, yb = self.y[a], self.y[b]
        return self.batch(torch.cat([a, b])), torch.stack([(ya == yb).long(), ya, yb], dim=1)


class ResamplePairs(Callback):
    """Draw fresh training pairs at the start of every epoch after the first."""

    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if self.epochs_ and hasattr(dataset_train, "resample"):
            dataset_train.resample()
        self.epochs_ += 1
