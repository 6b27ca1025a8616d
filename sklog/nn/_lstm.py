"""LSTM session encoder and the Siamese pair module built on it (Hashemi and Mäntylä).

The encoder maps a padded batch of template ids to one vector per session:
template embedding, stacked (Bi)LSTM layers over the packed sequence (so
padding never changes a session's vector), then dense layers. The Siamese
module runs both sides of a pair through the *same* encoder.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class LSTMSessionEncoder(nn.Module):
    """Template embedding -> stacked (Bi)LSTM -> dense layers -> session vector.

    Parameters
    ----------
    n_templates : int
        Vocabulary size, padding (id 0) and out-of-vocabulary (id 1) included.
    embedding_dim : int
    lstm_units : sequence of int
        Hidden size of each stacked LSTM layer (per direction).
    dense_units : sequence of int
        Width of each dense layer; the last one is the embedding size. ReLU
        between dense layers, none after the last (the similarity is a dot
        product, so the output must be able to take any sign).
    bidirectional : bool, default=False
    dropout : float, default=0.0
        Dropout between layers.
    """

    def __init__(
        self, n_templates, embedding_dim, lstm_units, dense_units, bidirectional=False, dropout=0.0
    ):
        super().__init__()
        self.embedding = nn.Embedding(n_templates, embedding_dim, padding_idx=0)
        directions = 2 if bidirectional else 1
        self.lstms = nn.ModuleList()
        size = embedding_dim
        for units in lstm_units:
            self.lstms.append(
                nn.LSTM(size, units, batch_first=True, bidirectional=bidirectional)
            )
            size = units * directions
        layers = []
        for i, units in enumerate(dense_units):
            layers.append(nn.Linear(size, units))
            if i < len(dense_units) - 1:
                layers.append(nn.ReLU())
                if dropout:
                    layers.append(nn.Dropout(dropout))
            size = units
        self.dense = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.output_dim = size

    def embed_tokens(self, ids):
        """Per-position template embeddings (exposed for saliency methods)."""
        return self.embedding(ids)

    def forward(self, ids, lengths, token_embeddings=None):
        """Session vectors for ``ids`` of shape ``(batch, time)`` and true ``lengths``.

        Empty sessions are read as one padding event, so they get a valid vector.
        """
        lengths = lengths.clamp(min=1)
        width = int(lengths.max())
        ids = ids[:, :width]
        out = self.embed_tokens(ids) if token_embeddings is None else token_embeddings[:, :width]
        last = None
        for i, lstm in enumerate(self.lstms):
            packed = pack_padded_sequence(
                out, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            packed_out, (h_n, _) = lstm(packed)
            last = torch.cat(list(h_n), dim=-1)  # final state of each direction
            if i < len(self.lstms) - 1:
                out, _ = torch.nn.utils.rnn.pad_packed_sequence(
                    packed_out, batch_first=True, total_length=width
                )
                out = self.dropout(out)
        if last is None:  # no LSTM layer: mean of the token embeddings
            mask = (torch.arange(width, device=ids.device)[None, :] < lengths[:, None]).float()
            last = (out * mask[..., None]).sum(1) / lengths[:, None].float()
        return self.dense(last)


class SiamesePairModule(nn.Module):
    """Shared-weight encoder applied to both sides of a pair, plus an optional class head.

    ``forward`` returns ``(similarity_logit, embedding_1, embedding_2,
    head_logits_1, head_logits_2)``; the similarity is ``x1 . x2`` (its
    sigmoid is the pair's probability of sharing a class). The head logits are
    ``None`` unless ``n_classes`` is given (the hybrid mode).
    """

    def __init__(self, encoder_kwargs, n_classes=None):
        super().__init__()
        self.encoder = LSTMSessionEncoder(**encoder_kwargs)
        self.head = nn.Linear(self.encoder.output_dim, n_classes) if n_classes else None

    def forward(self, x1, l1, x2, l2):
        # One encoder call for both sides: the same weights, half the kernel launches.
        n = x1.shape[0]
        width = max(x1.shape[1], x2.shape[1])
        ids = torch.zeros((2 * n, width), dtype=x1.dtype, device=x1.device)
        ids[:n, : x1.shape[1]] = x1
        ids[n:, : x2.shape[1]] = x2
        z = self.encoder(ids, torch.cat([l1, l2]))
        z1, z2 = z[:n], z[n:]
        sim = (z1 * z2).sum(-1)
        h1 = h2 = None
        if self.head is not None:
            h1, h2 = self.head(z1), self.head(z2)
        return sim, z1, z2, h1, h2
