"""Dilated residual 1-D convolutions that shorten a byte sequence while widening its view."""

from __future__ import annotations

from torch import nn
from torch.nn import functional as F

__all__ = ["ByteConvStack", "DilatedResidualBlock"]


class DilatedResidualBlock(nn.Module):
    """``LayerNorm(x + W_1x1 GELU(dilated conv(x)))``, padding positions held at zero.

    Parameters
    ----------
    channels : int
    dilation : int
    kernel_size : int, default=3
        Odd, so the output stays aligned with the input.
    dropout : float, default=0.0
    """

    def __init__(self, channels, dilation, kernel_size=3, dropout=0.0):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size - 1) // 2)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.norm = nn.LayerNorm(channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, valid):
        """``x`` ``(b, channels, t)``, ``valid`` ``(b, t)`` bool."""
        keep = valid.unsqueeze(1).to(x.dtype)
        h = self.mix(self.dropout(F.gelu(self.conv(x * keep))))
        return self.norm((x + h).transpose(1, 2)).transpose(1, 2) * keep


class ByteConvStack(nn.Module):
    """``n_stages`` stages of dilated residual blocks, each followed by a stride-2 convolution.

    A sequence of ``t`` positions comes out ``ceil(t / 2**n_stages)`` long (16x
    shorter for 4 stages). Within a stage the blocks' dilations double
    (``dilations``); the receptive field of one output position is
    ``1 + sum_s 2**s * (1 + (kernel_size - 1) * sum(dilations))`` input positions
    (106 bytes for 4 stages of dilations 1 and 2 with kernel 3). An output
    position is valid when any of its two inputs was.

    Parameters
    ----------
    channels : int
    n_stages : int, default=4
    dilations : tuple of int, default=(1, 2)
    kernel_size : int, default=3
    dropout : float, default=0.0
    """

    def __init__(self, channels, n_stages=4, dilations=(1, 2), kernel_size=3, dropout=0.0):
        super().__init__()
        self.n_stages = n_stages
        self.stages = nn.ModuleList(
            nn.ModuleList(DilatedResidualBlock(channels, d, kernel_size, dropout)
                          for d in dilations) for _ in range(n_stages))
        self.downsample = nn.ModuleList(
            nn.Conv1d(channels, channels, 2, stride=2) for _ in range(n_stages))

    @property
    def factor(self):
        """How many input positions make one output position."""
        return 2 ** self.n_stages

    def receptive_field(self):
        """Input positions one output position sees."""
        field = 1
        for s, blocks in enumerate(self.stages):
            span = sum(b.conv.dilation[0] * (b.conv.kernel_size[0] - 1) for b in blocks) + 1
            field += 2**s * span
        return field

    def forward(self, x, valid):
        """``x`` ``(b, t, channels)``, ``valid`` ``(b, t)`` -> ``(b, t', channels)``, ``(b, t')``
        and the first stage's full-resolution output ``(b, t, channels)``."""
        h = x.transpose(1, 2)
        first = x if not self.n_stages else None
        for blocks, down in zip(self.stages, self.downsample, strict=True):
            for block in blocks:
                h = block(h, valid)
            if first is None:
                first = h.transpose(1, 2)
            if h.shape[-1] % 2:
                h, valid = F.pad(h, (0, 1)), F.pad(valid, (0, 1))
            h = down(h)
            valid = valid[:, 0::2] | valid[:, 1::2]
            h = h * valid.unsqueeze(1).to(h.dtype)
        return h.transpose(1, 2), valid, first
