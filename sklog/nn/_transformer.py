"""A Transformer encoder whose attention weights come from alpha-entmax (Peters et al. 2019).

``alpha=1`` is softmax; larger ``alpha`` gives sparse attention: positions
below a data-dependent threshold get exactly zero weight, so a session's
representation is built from the few events that matter (MLAD, Zang et al.
2024). The feed-forward block uses CeLU, as in MLAD.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Score given to masked (padding or future) keys: far enough below any real score that
#: entmax gives them exactly zero weight, finite so entmax's sort and powers stay finite.
MASKED_SCORE = -1e4


def entmax(scores, alpha, dim=-1):
    """alpha-entmax of ``scores`` along ``dim``: softmax at 1, exact sort-based 1.5-entmax
    at 1.5, bisection otherwise (the ``entmax`` package)."""
    if alpha == 1.0:
        return torch.softmax(scores, dim=dim)
    from entmax import entmax15, entmax_bisect

    if alpha == 1.5:
        return entmax15(scores, dim=dim)
    return entmax_bisect(scores, alpha=alpha, dim=dim)


class EntmaxSelfAttention(nn.Module):
    """Multi-head self-attention with alpha-entmax weights.

    Parameters
    ----------
    d_model, n_heads : int
        ``n_heads`` must divide ``d_model``.
    alpha : float, default=1.5
    dropout : float, default=0.0
        Dropout on the attention weights.
    """

    def __init__(self, d_model, n_heads, alpha=1.5, dropout=0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}.")
        self.n_heads, self.alpha = n_heads, float(alpha)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, allowed):
        """``x`` ``(b, t, d)``; ``allowed`` ``(b, t, t)`` bool, query ``i`` may read key ``j``.

        Returns the output ``(b, t, d)`` and the weights ``(b, heads, t, t)``.
        """
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.n_heads)
        scores = scores.masked_fill(~allowed.unsqueeze(1), MASKED_SCORE)
        weights = entmax(scores, self.alpha)
        out = (self.dropout(weights) @ v).transpose(1, 2).reshape(b, t, d)
        return self.out(out), weights


class EntmaxEncoderLayer(nn.Module):
    """Post-norm Transformer layer: entmax attention, then a CeLU feed-forward block."""

    def __init__(self, d_model, n_heads, d_ff, alpha=1.5, dropout=0.1):
        super().__init__()
        self.attention = EntmaxSelfAttention(d_model, n_heads, alpha, dropout)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.CELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, allowed):
        attended, weights = self.attention(x, allowed)
        x = self.norm1(x + self.dropout(attended))
        return self.norm2(x + self.dropout(self.feed_forward(x))), weights


def sinusoidal_positions(length, dim, device=None):
    """The fixed sine/cosine position encodings of Vaswani et al., ``(length, dim)``:
    no length limit and nothing to learn."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32)
                     * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


def attention_mask(valid, causal):
    """``(b, t, t)``: key ``j`` is a real event (and, if ``causal``, not after query ``i``).

    A query whose row would be empty (an empty session) may read itself.
    """
    t = valid.shape[1]
    allowed = valid.unsqueeze(1).expand(-1, t, -1)
    if causal:
        allowed = allowed & torch.ones(t, t, dtype=torch.bool, device=valid.device).tril()
    return allowed | torch.eye(t, dtype=torch.bool, device=valid.device)
