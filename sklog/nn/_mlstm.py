"""The matrix-memory LSTM (mLSTM) of xLSTM (Beck et al. 2024), in plain torch.

Each head keeps a matrix memory ``C_t = f_t C_{t-1} + i_t v_t k_t^T`` and a
normaliser ``n_t = f_t n_{t-1} + i_t k_t``, with an exponential input gate
``i_t = exp(i~_t)`` and a sigmoid forget gate ``f_t = sigmoid(f~_t)``; the
output is ``h_t = C_t q_t / max(|n_t . q_t|, 1)`` (keys scaled by
``1/sqrt(d_head)``). There is no memory mixing between steps, so the whole
sequence is computed at once (:func:`mlstm_parallel`, the stabilised
parallel form of the paper's appendix); :func:`mlstm_recurrent` is the
step-by-step form, kept as the reference the tests compare against.

Both forms take the *log* forget gates, so a position that must not change
the memory (padding) is written as ``log_f = 0`` and ``i~ = -inf``: it is
skipped exactly, wherever it lies. The ``xlstm`` package is not used (its
kernels need ``mlstm_kernels``, whose licence is not an open-source one).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["MLSTMLayer", "mlstm_parallel", "mlstm_recurrent"]


def mlstm_parallel(q, k, v, log_f, i_pre, eps=1e-6):
    """All outputs ``h_1..h_S`` of the mLSTM cell at once (stabilised parallel form).

    ``D[t, j] = exp(sum_{j < s <= t} log f_s + i~_j)`` for ``j <= t`` (0 above the
    diagonal) is stabilised by its row maximum ``m_t``, which cancels in the
    output: ``h_t = sum_j D[t, j] (q_t . k_j) v_j / max(|sum_j D[t, j] (q_t . k_j)|,
    exp(-m_t))``. Rows with nothing written (all ``i~ = -inf``) give 0.

    Parameters
    ----------
    q, k, v : tensors ``(B, H, S, d)``
    log_f : tensor ``(B, H, S)``
        Log forget gates (``logsigmoid`` of the pre-activations; 0 keeps the memory).
    i_pre : tensor ``(B, H, S)``
        Input gate pre-activations (log of the exponential gate; ``-inf``: no write).

    Returns
    -------
    h : tensor ``(B, H, S, d)``
    """
    S, d = q.shape[-2], q.shape[-1]
    cumulative = torch.cumsum(log_f, dim=-1)
    # log of the product of forget gates j+1..t: F_t - F_j
    log_decay = cumulative.unsqueeze(-1) - cumulative.unsqueeze(-2)
    causal = torch.ones(S, S, dtype=torch.bool, device=q.device).tril()
    log_d = (log_decay + i_pre.unsqueeze(-2)).masked_fill(~causal, -math.inf)
    m = log_d.amax(dim=-1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # rows with no write
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(d) * torch.exp(log_d - m)
    normaliser = torch.maximum(scores.sum(-1, keepdim=True).abs(), torch.exp(-m))
    return (scores / (normaliser + eps)) @ v


def mlstm_recurrent(q, k, v, log_f, i_pre, eps=1e-6):
    """The same outputs step by step, with the stabiliser state ``m_t`` of the paper.

    ``m_t = max(log f_t + m_{t-1}, i~_t)``, ``C_t = exp(log f_t + m_{t-1} - m_t) C_{t-1}
    + exp(i~_t - m_t) v_t k_t^T`` (and ``n_t`` alike), ``h_t = C_t q_t /
    max(|n_t . q_t|, exp(-m_t))``. A reference for :func:`mlstm_parallel` (and a
    constant-memory form for streaming); ``O(S)`` Python steps.
    """
    B, H, S, d = q.shape
    C = q.new_zeros(B, H, d, d)
    n = q.new_zeros(B, H, d)
    m = q.new_zeros(B, H)
    out = []
    for t in range(S):
        k_t = k[:, :, t] / math.sqrt(d)
        m_new = torch.maximum(log_f[:, :, t] + m, i_pre[:, :, t])
        decay = torch.exp(log_f[:, :, t] + m - m_new)
        write = torch.exp(i_pre[:, :, t] - m_new)
        C = decay[..., None, None] * C + write[..., None, None] * (
            v[:, :, t].unsqueeze(-1) * k_t.unsqueeze(-2))
        n = decay[..., None] * n + write[..., None] * k_t
        q_t = q[:, :, t]
        numerator = (C @ q_t.unsqueeze(-1)).squeeze(-1)
        denominator = torch.maximum((n * q_t).sum(-1).abs(), torch.exp(-m_new))
        out.append(numerator / (denominator + eps)[..., None])
        m = m_new
    return torch.stack(out, dim=2)


class MLSTMLayer(nn.Module):
    """A pre-norm residual mLSTM block (xLSTM's up-projection block, simplified).

    ``x + W_down[(GroupNorm(mLSTM(q, k, v)) + s * c) * silu(z)]`` where the block
    input is layer-normalised and projected up to two branches ``a`` and ``z``
    of ``proj_factor * d_model``; ``c = silu(causal depthwise conv(a))`` gives
    the queries and keys, ``a`` the values, and ``[q, k, v]`` the gate
    pre-activations of each head. Forget-gate biases start between 3 and 6
    (long memory), input-gate biases near 0, as in xLSTM.

    Parameters
    ----------
    d_model, n_heads : int
        ``n_heads`` must divide ``proj_factor * d_model``.
    proj_factor : int, default=2
    conv_kernel : int, default=4
    dropout : float, default=0.0
    """

    def __init__(self, d_model, n_heads, proj_factor=2, conv_kernel=4, dropout=0.0):
        super().__init__()
        inner = proj_factor * d_model
        if inner % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide {proj_factor} * d_model={inner}.")
        self.n_heads, self.conv_kernel = n_heads, conv_kernel
        self.norm = nn.LayerNorm(d_model)
        self.up = nn.Linear(d_model, 2 * inner)
        self.conv = nn.Conv1d(inner, inner, conv_kernel, groups=inner, padding=conv_kernel - 1)
        self.q, self.k, self.v = (nn.Linear(inner, inner) for _ in range(3))
        self.input_gate = nn.Linear(3 * inner, n_heads)
        self.forget_gate = nn.Linear(3 * inner, n_heads)
        # head-wise layer norm of each position's output (xLSTM's MultiHeadLayerNorm)
        self.out_norm_weight = nn.Parameter(torch.ones(inner))
        self.out_norm_bias = nn.Parameter(torch.zeros(inner))
        self.skip = nn.Parameter(torch.ones(inner))
        self.down = nn.Linear(inner, d_model)
        self.dropout = nn.Dropout(dropout)
        with torch.no_grad():
            nn.init.zeros_(self.forget_gate.weight)
            self.forget_gate.bias.copy_(torch.linspace(3.0, 6.0, n_heads))
            nn.init.zeros_(self.input_gate.weight)
            nn.init.normal_(self.input_gate.bias, std=0.1)

    def forward(self, x, valid):
        """``x`` ``(b, t, d_model)``; ``valid`` ``(b, t)`` bool (invalid positions are
        skipped by the memory and zeroed on output)."""
        b, t, _ = x.shape
        a, z = self.up(self.norm(x)).chunk(2, dim=-1)
        a = a * valid.unsqueeze(-1)
        c = F.silu(self.conv(a.transpose(1, 2))[..., :t].transpose(1, 2))
        q, k, v = self.q(c), self.k(c), self.v(a)
        gates = torch.cat([q, k, v], dim=-1)
        i_pre, f_pre = self.input_gate(gates), self.forget_gate(gates)

        def heads(u):
            return u.view(b, t, self.n_heads, -1).transpose(1, 2).float()

        with torch.autocast(x.device.type, enabled=False):  # exp() of gates: float32
            keep = valid.unsqueeze(1)
            log_f = F.logsigmoid(f_pre.float()).transpose(1, 2).masked_fill(~keep, 0.0)
            i_pre = i_pre.float().transpose(1, 2).masked_fill(~keep, -math.inf)
            h = mlstm_parallel(heads(q), heads(k), heads(v), log_f, i_pre)
        h = F.layer_norm(h.transpose(1, 2), h.shape[-1:]).reshape(b, t, -1)
        h = (h * self.out_norm_weight + self.out_norm_bias).to(c.dtype)
        out = self.down((h + self.skip * c) * F.silu(z))
        return x + self.dropout(out) * valid.unsqueeze(-1)
