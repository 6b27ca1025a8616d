"""Pair training for Siamese networks in skorch: pair dataset, length-bucketed batches, loss.

The dataset draws new pairs when :class:`ResamplePairs` asks at the start of
every epoch, so skorch keeps the training loop while the pairs change.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor


def kpone_pairs(y, n_negatives, rng):
    """The K+1 pairs: for every session one same-class and ``K`` different-class partners.

    Returns an ``(n * (K + 1), 2)`` array of session indices; the same-class
    partner is never the session itself when its class has another member.
    """
    y = np.asarray(y)
    idx = np.arange(len(y))
    first, second = [], []
    for c in np.unique(y):
        members, others = idx[y == c], idx[y != c]
        m = len(members)
        if m > 1:
            same = members[(np.arange(m) + 1 + rng.randint(m - 1, size=m)) % m]
        else:
            same = members.copy()
        pool = others if len(others) else members  # one class only: all partners same-class
        diff = pool[rng.randint(len(pool), size=(m, n_negatives))]
        first.append(np.repeat(members, n_negatives + 1))
        second.append(np.column_stack([same, diff]).ravel())
    return np.column_stack([np.concatenate(first), np.concatenate(second)])


def all_pairs(n, max_pairs, rng):
    """Every unordered pair of ``n`` sessions, or ``max_pairs`` drawn at random when more."""
    total = n * (n - 1) // 2
    if total == 0:
        return np.column_stack([np.arange(n), np.arange(n)])
    if total <= max_pairs:
        i, j = np.triu_indices(n, 1)
        return np.column_stack([i, j])
    i = rng.randint(n, size=max_pairs)
    j = (i + 1 + rng.randint(n - 1, size=max_pairs)) % n
    return np.column_stack([i, j])


class PairDataset(torch.utils.data.Dataset):
    """Pairs of padded sessions, indexed by whole batches; ``resample()`` draws new pairs.

    Parameters
    ----------
    ids, lengths : arrays ``(n, width)`` and ``(n,)`` of template ids and true lengths
    labels : array ``(n,)`` of class indices
    pairs : {"kpone", "all"}
    n_negatives, max_pairs : int
    rng : numpy RandomState
    """

    def __init__(self, ids, lengths, labels, pairs, n_negatives, max_pairs, rng):
        self.ids = torch.as_tensor(ids)
        self.lengths = torch.as_tensor(lengths)
        self.labels = torch.as_tensor(labels)
        self.mode, self.n_negatives, self.max_pairs, self.rng = pairs, n_negatives, max_pairs, rng
        self.resample()

    def resample(self):
        labels = self.labels.numpy()
        if self.mode == "kpone":
            drawn = kpone_pairs(labels, self.n_negatives, self.rng)
        else:
            drawn = all_pairs(len(labels), self.max_pairs, self.rng)
        self.pairs = torch.as_tensor(drawn)

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, index):
        a, b = self.pairs[index, 0], self.pairs[index, 1]
        la, lb = self.lengths[a], self.lengths[b]
        wa, wb = max(int(la.max()), 1), max(int(lb.max()), 1)
        x = {"x1": self.ids[a, :wa], "l1": la, "x2": self.ids[b, :wb], "l2": lb}
        ya, yb = self.labels[a], self.labels[b]
        return x, torch.stack([(ya == yb).long(), ya, yb], dim=1)


class BucketBatchSampler(torch.utils.data.Sampler):
    """Shuffled batches of pairs of similar length (seeded by ``generator``).

    Pairs are shuffled, cut into chunks of 50 batches, sorted by the longer
    session of each pair within a chunk, and the batches shuffled again: an
    LSTM batch runs as many steps as its longest session, so one 300-event
    session in every batch would make every batch slow.
    """

    def __init__(self, dataset, batch_size, generator=None):
        self.dataset, self.batch_size, self.generator = dataset, batch_size, generator

    def __len__(self):
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        ds, n = self.dataset, len(self.dataset)
        order = torch.arange(n) if self.generator is None else torch.randperm(
            n, generator=self.generator)
        longer = torch.maximum(ds.lengths[ds.pairs[order, 0]], ds.lengths[ds.pairs[order, 1]])
        chunk = 50 * self.batch_size
        batches = []
        for start in range(0, n, chunk):
            part = order[start : start + chunk]
            part = part[torch.argsort(longer[start : start + chunk], stable=True)]
            batches.extend(part.split(self.batch_size))
        if self.generator is not None:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=self.generator)]
        return iter([b.tolist() for b in batches])


class ResamplePairs(Callback):
    """Draw fresh training pairs at the start of every epoch after the first."""

    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if self.epochs_ and hasattr(dataset_train, "resample"):
            dataset_train.resample()
        self.epochs_ += 1


def silent(*args, **kwargs):
    """A picklable no-op sink for skorch callbacks."""


class SiameseNet(NeuralNet):
    """skorch net trained on pairs: BCE on ``sigmoid(x1 . x2)`` or contrastive loss.

    With a class head (hybrid mode) the cross-entropy of both sides is added.
    Batches come from :class:`BucketBatchSampler`, seeded by ``pair_seed``.
    """

    def __init__(self, module, *args, pair_loss="bce", margin=1.0, pair_seed=0, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.pair_loss = pair_loss
        self.margin = margin
        self.pair_seed = pair_seed

    def get_iterator(self, dataset, training=False):
        if not isinstance(dataset, PairDataset):
            return super().get_iterator(dataset, training=training)
        generator = None
        if training:
            generator = torch.Generator()
            generator.manual_seed(int(self.pair_seed))
        sampler = BucketBatchSampler(dataset, self.batch_size, generator)
        return torch.utils.data.DataLoader(dataset, batch_size=None, sampler=sampler)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        sim, z1, z2, h1, h2 = y_pred
        y_true = to_tensor(y_true, device=self.device)
        same = y_true[:, 0].float()
        if self.pair_loss == "bce":
            loss = F.binary_cross_entropy_with_logits(sim, same)
        else:
            dist = torch.sqrt(((z1 - z2) ** 2).sum(-1) + 1e-9)
            loss = (same * dist**2 + (1 - same) * F.relu(self.margin - dist) ** 2).mean()
        if h1 is not None:
            loss = loss + 0.5 * (
                F.cross_entropy(h1, y_true[:, 1]) + F.cross_entropy(h2, y_true[:, 2])
            )
        return loss
