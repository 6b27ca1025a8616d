"""Learning-rate schedules that survive pickling (a skorch net keeps its callbacks)."""

from __future__ import annotations

import math


class WarmupCosine:
    """Multiplier of the base learning rate at optimiser step ``step``: a linear warm-up
    over the first ``warmup`` share of ``total_steps``, then a cosine decay to
    ``floor``; held at ``floor`` past ``total_steps`` (early stopping or a last short
    batch never step it out of range).

    A class rather than a lambda, so the net still pickles with ``joblib``.

    Examples
    --------
    >>> schedule = WarmupCosine(total_steps=100, warmup=0.1)
    >>> [round(schedule(s), 2) for s in (0, 5, 10, 55, 100, 500)]
    [0.1, 0.6, 1.0, 0.51, 0.01, 0.01]
    """

    def __init__(self, total_steps, warmup=0.1, floor=0.01):
        self.total_steps, self.warmup, self.floor = max(int(total_steps), 1), warmup, floor

    def __call__(self, step):
        n_warmup = max(int(round(self.warmup * self.total_steps)), 1)
        if step < n_warmup:
            return (step + 1) / n_warmup
        progress = min((step - n_warmup) / max(self.total_steps - n_warmup, 1), 1.0)
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine_callback(n_samples, batch_size, max_epochs, warmup=0.1):
    """A skorch ``LRScheduler`` stepping :class:`WarmupCosine` every training batch over
    ``max_epochs`` epochs of ``n_samples`` sessions."""
    from skorch.callbacks import LRScheduler
    from torch.optim.lr_scheduler import LambdaLR

    steps = max_epochs * -(-int(n_samples) // int(batch_size))
    return LRScheduler(policy=LambdaLR, lr_lambda=WarmupCosine(steps, warmup),
                       step_every="batch")
