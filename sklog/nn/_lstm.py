"""LSTM session encoder and the Siamese pair module built on it (Hashemi and Mäntylä).

The encoder maps a padded batch of template ids to one vector per session:
template embedding, stacked (Bi)LSTM layers over the packed sequence (so
padding never changes a session's vector), then dense layers. The Siamese
module embeds both sides of every pair with this *same* encoder.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ._embedding import TemplateEmbedding


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
    embedding : dict, optional
        ``mode`` and ``table`` of the :class:`TemplateEmbedding` (default:
        learned ids only).
    """

    def __init__(
        self, n_templates, embedding_dim, lstm_units, dense_units, bidirectional=False, dropout=0.0,
        embedding=None,
    ):
        super().__init__()
        self.embedding = TemplateEmbedding(n_templates, embedding_dim, **(embedding or {}))
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

    def forward(self, ids, lengths, vectors=None):
        """Session vectors for ``ids`` of shape ``(batch, time)`` and true ``lengths``
        (``vectors``: the positions' template text vectors, see :class:`TemplateEmbedding`).

        Empty sessions are read as one padding event, so they get a valid vector.
        """
        lengths = lengths.clamp(min=1)
        width = int(lengths.max())
        ids = ids[:, :width]
        out = self.embedding(ids, None if vectors is None else vectors[:, :width])
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


class SiameseModule(nn.Module):
    """The shared-weight session encoder of a Siamese network, plus an optional class head.

    Pairs are a matter of the data (:class:`PairDataset` stacks both sides of
    a batch of pairs), so the module only embeds sessions: ``forward``
    returns ``(embeddings,)``, or ``(embeddings, head_logits)`` when
    ``n_classes`` is given (the hybrid mode).
    """

    def __init__(self, encoder_kwargs, n_classes=None):
        super().__init__()
        self.encoder = LSTMSessionEncoder(**encoder_kwargs)
        self.head = nn.Linear(self.encoder.output_dim, n_classes) if n_classes else None

    def forward(self, ids, lengths, vectors=None):
        z = self.encoder(ids, lengths, vectors)
        return (z,) if self.head is None else (z, self.head(z))
