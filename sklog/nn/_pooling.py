"""Four-way pooling of a sequence with a leading CLS position: CLS, attention, max, mean."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FourWayPooling"]


class FourWayPooling(nn.Module):
    """``[h_CLS, sum_t a_t h_t, max_t h_t, mean_t h_t]`` over the valid positions after CLS.

    ``a = softmax(w . h_t)`` is learned attention pooling. A sequence with no
    valid position after CLS (an empty input) gets zeros for the last three.
    The output has ``4 * d_model`` features.

    Parameters
    ----------
    d_model : int
    """

    def __init__(self, d_model):
        super().__init__()
        self.score = nn.Linear(d_model, 1)

    def forward(self, h, valid):
        """``h`` ``(b, 1 + t, d)`` with CLS at position 0; ``valid`` ``(b, 1 + t)`` bool.

        Returns ``(pooled (b, 4d), attention weights (b, t))``.
        """
        cls, body, keep = h[:, 0], h[:, 1:], valid[:, 1:]
        any_valid = keep.any(1, keepdim=True)
        scores = self.score(body).squeeze(-1).masked_fill(~keep, -torch.inf)
        weights = torch.softmax(scores.masked_fill(~any_valid, 0.0), dim=-1) * keep
        attended = (weights.unsqueeze(-1) * body).sum(1)
        largest = body.masked_fill(~keep.unsqueeze(-1), -torch.inf).amax(1)
        largest = torch.where(any_valid, largest, torch.zeros_like(largest))
        mean = (body * keep.unsqueeze(-1)).sum(1) / keep.sum(1, keepdim=True).clamp(min=1)
        return torch.cat([cls, attended, largest, mean], dim=-1), weights
