"""The skorch net every session model trains with: length-bucketed batches."""

from __future__ import annotations

import torch
from skorch import NeuralNet

from ._data import LengthBucketSampler


class SessionNet(NeuralNet):
    """``NeuralNet`` that batches :class:`SessionDataset`-like data by length.

    A dataset with ``item_lengths()`` is served by :class:`LengthBucketSampler`:
    shuffled buckets seeded by ``bucket_seed`` for training, length order for
    validation and inference (batch size: the dataset's ``batch_size`` hint,
    else ``iterator_valid__batch_size``, else ``batch_size``). Any other
    dataset goes through skorch's default loader.

    Parameters
    ----------
    bucket_seed : int, default=0
        Seeds the training bucket order (a fresh generator each epoch).
    """

    def __init__(self, module, *args, bucket_seed=0, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.bucket_seed = bucket_seed

    def get_iterator(self, dataset, training=False):
        if not hasattr(dataset, "item_lengths"):
            return super().get_iterator(dataset, training=training)
        generator = None
        if training:
            batch_size = self.batch_size
            generator = torch.Generator()
            generator.manual_seed(int(self.bucket_seed))
        else:
            batch_size = (getattr(dataset, "batch_size", None)
                          or self.get_params_for("iterator_valid").get("batch_size")
                          or self.batch_size)
        sampler = LengthBucketSampler(dataset, batch_size, generator)
        return torch.utils.data.DataLoader(dataset, batch_size=None, sampler=sampler)


def silent(*args, **kwargs):
    """A picklable no-op sink for skorch callbacks."""
