"""Multi-kernel 1-D CNN encoder and its mirrored transposed-convolution decoder.

These are the two halves of ALogSCAN's networks (Raeiszadeh et al., 2025):
parallel convolutions of several kernel sizes over an embedded sequence,
max-pooled over time into one latent vector. Cost is linear in the sequence
length and there is no recurrence, so a batch is one pass of a few matrix
products.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Relative gap under which two pooled values count as a tie (float32 noise).
TIE_TOLERANCE = 1e-5


class MultiKernelCNNEncoder(nn.Module):
    """Parallel ``Conv1d`` branches (one per kernel size), max-pooled over valid positions.

    Each branch sees the sequence right-padded by ``k - 1`` zero vectors, so
    its feature map has one column per event. Padding positions are excluded
    from the pooling; a session with no valid position pools to zeros.

    Parameters
    ----------
    embedding_dim : int
        Size of the input vectors.
    channels : int, default=128
        Output channels of every branch.
    kernel_sizes : tuple of int, default=(2, 3, 4)
        One branch per kernel size; the latent size is
        ``channels * len(kernel_sizes)``.
    pooling : {"max", "mean"}, default="max"
        How feature maps are pooled over the valid positions.

    Examples
    --------
    >>> import torch
    >>> enc = MultiKernelCNNEncoder(8, channels=4)
    >>> z, maps, where = enc(torch.zeros(2, 5, 8), torch.ones(2, 5, dtype=torch.bool))
    >>> tuple(z.shape), len(maps), tuple(where.shape)
    ((2, 12), 3, (2, 12))
    """

    def __init__(self, embedding_dim, channels=128, kernel_sizes=(2, 3, 4), pooling="max"):
        super().__init__()
        if pooling not in ("max", "mean"):
            raise ValueError(f"pooling must be 'max' or 'mean', got pooling={pooling!r}.")
        self.pooling = pooling
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.channels = int(channels)
        self.convs = nn.ModuleList(
            nn.Conv1d(embedding_dim, self.channels, k) for k in self.kernel_sizes
        )

    @property
    def latent_dim(self):
        return self.channels * len(self.kernel_sizes)

    def forward(self, x, valid):
        """Encode ``x`` of shape ``(n, L, d)``; ``valid`` ``(n, L)`` marks real events.

        Returns
        -------
        z : tensor ``(n, channels * n_kernels)``
            The max-pooled latent vector.
        maps : list of tensors ``(n, channels, L)``
            Per-branch feature maps (the decoder's input).
        argmax : tensor ``(n, channels * n_kernels)`` of int64
            The position each latent coordinate was pooled from (max pooling:
            the first position within :data:`TIE_TOLERANCE` of the maximum;
            zeros for mean pooling), for explanations.
        """
        h = x.transpose(1, 2)
        invalid = ~valid.unsqueeze(1)
        maps, pooled, where = [], [], []
        for conv, k in zip(self.convs, self.kernel_sizes, strict=True):
            m = conv(F.pad(h, (0, k - 1)))
            maps.append(m)
            if m.shape[-1] == 0 or self.pooling == "mean":
                n_valid = valid.sum(dim=1, keepdim=True).clamp(min=1).to(m.dtype)
                pooled.append(m.masked_fill(invalid, 0.0).sum(dim=-1) / n_valid)
                where.append(torch.zeros(m.shape[:2], dtype=torch.long, device=m.device))
                continue
            masked = m.masked_fill(invalid, float("-inf"))
            value = masked.max(dim=-1).values
            empty = torch.isinf(value)
            pooled.append(value.masked_fill(empty, 0.0))
            # repeated events tie for the maximum, and float32 noise that depends on the
            # batch would pick among them: take the first position within that noise
            tol = (TIE_TOLERANCE * value.abs()).masked_fill(empty, 0.0).unsqueeze(-1)
            where.append((masked >= value.unsqueeze(-1) - tol).int().argmax(dim=-1))
        return torch.cat(pooled, dim=1), maps, torch.cat(where, dim=1)


class MirroredDeconvDecoder(nn.Module):
    """Mirror of :class:`MultiKernelCNNEncoder`: one ``ConvTranspose1d`` per branch.

    Each branch maps its ``(n, channels, L)`` feature map back to
    ``(n, L, output_dim)`` (cropped to the input length); the branches are
    averaged.

    Parameters
    ----------
    output_dim : int
        Size of the reconstructed vectors.
    channels : int, default=128
    kernel_sizes : tuple of int, default=(2, 3, 4)

    Examples
    --------
    >>> import torch
    >>> dec = MirroredDeconvDecoder(8, channels=4)
    >>> tuple(dec([torch.zeros(2, 4, 5)] * 3).shape)
    (2, 5, 8)
    """

    def __init__(self, output_dim, channels=128, kernel_sizes=(2, 3, 4)):
        super().__init__()
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose1d(channels, output_dim, k) for k in self.kernel_sizes
        )

    def forward(self, maps):
        length = maps[0].shape[-1]
        out = [deconv(m)[..., :length] for deconv, m in zip(self.deconvs, maps, strict=True)]
        return torch.stack(out, dim=0).mean(dim=0).transpose(1, 2)
