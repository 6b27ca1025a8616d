"""What every neural *detector* adds to the session-model base: learning from normal
sessions with a held-out part, and a threshold set from training scores only."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils import torch_generator
from ._estimator import SessionModelMixin

#: Longest session (in events) read by default (``max_length="auto"``); longer ones are cut.
MAX_LENGTH_CAP = 512

#: Relative margin of the threshold over the score it is set from: float32 scores of one
#: session differ by ~1e-7 between batch compositions, and a prediction must not.
THRESHOLD_MARGIN = 1e-5


class SessionDetectorMixin(SessionModelMixin):
    """Held-out split, per-epoch sampling and the ``contamination`` threshold of detectors.

    The estimator must have the parameters of :data:`_detector_constraints`
    (and ``max_samples`` to use :meth:`_sampler_params`) besides those of
    :class:`SessionModelMixin`.
    """

    #: parameter constraints every neural detector shares (its own come beside them)
    _detector_constraints = {
        "max_length": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "contamination": [StrOptions({"auto"}), Interval(numbers.Real, 0, 0.5, closed="right")],
        "validation_fraction": [Interval(numbers.Real, 0, 0.5, closed="neither")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, object],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: ``contamination="auto"``: this quantile of the held-out sessions' scores (1.0: their
    #: maximum); a method chooses it on validation data and documents it
    _auto_quantile = 1.0

    def _auto_max_length(self, sessions):
        """``max_length_``: ``max_length``, or the longest training session capped at
        :data:`MAX_LENGTH_CAP` when ``"auto"``."""
        if self.max_length != "auto":
            return int(self.max_length)
        longest = max((len(s) for s in sessions), default=1)
        return max(1, min(longest, MAX_LENGTH_CAP))

    def _held_out_split(self, n, seed):
        """``(train, held_out)`` rows: held-out sessions serve early stopping and the "auto"
        threshold and never a gradient step (none below 10 sessions)."""
        order = check_random_state(seed).permutation(n)
        n_valid = int(round(self.validation_fraction * n)) if n >= 10 else 0
        return np.sort(order[n_valid:]), np.sort(order[:n_valid])

    def _sampler_params(self, n_train, seed):
        """skorch iterator settings: shuffled batches; at most ``max_samples`` sessions
        drawn anew each epoch."""
        from torch.utils.data import RandomSampler

        if self.max_samples is None or n_train <= self.max_samples:
            return {"iterator_train__shuffle": True}
        return {"iterator_train__sampler": RandomSampler(
            range(n_train), num_samples=int(self.max_samples), generator=torch_generator(seed + 1)),
            "iterator_train__shuffle": False}

    def _set_threshold(self, scores, held_out):
        """``threshold_`` and ``offset_`` from anomaly scores of the training sessions.

        ``contamination="auto"``: the :attr:`_auto_quantile` of the held-out
        sessions' scores (all sessions when none is held out); a float: that
        share of the training sessions lies above the threshold.
        """
        if self.contamination == "auto":
            threshold = np.quantile(scores[held_out] if len(held_out) else scores,
                                    self._auto_quantile)
        else:
            threshold = np.percentile(scores, 100 * (1 - self.contamination))
        self.threshold_ = float(threshold + THRESHOLD_MARGIN * abs(threshold))
        self.offset_ = -self.threshold_
