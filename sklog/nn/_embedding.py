"""Per-position template inputs: learned ids, frozen text vectors projected, or both.

Every sequence model reads a session through this one block, so the choice
of ``template_embedding`` means the same thing in every method:

* ``"learned"``: one trained vector per training template; unseen templates
  share the out-of-vocabulary vector.
* ``"semantic"``: the template's frozen text vector (Sentence-BERT through
  :class:`sklog.feature_extraction.BertEmbedder`), times a learned projection
  to the model width. An unseen template gets its own vector from its text,
  near the training templates it resembles.
* ``"both"``: the sum of the two.
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils import OOV_ID, PAD_ID

#: The values of every estimator's ``template_embedding`` parameter.
TEMPLATE_EMBEDDINGS = ("learned", "semantic", "both")


class TemplateEmbedding(nn.Module):
    """Template ids (and their text vectors) -> ``(batch, time, dim)`` model inputs.

    Parameters
    ----------
    n_ids : int
        Training vocabulary size, padding (id 0) and out-of-vocabulary (id 1)
        included. Larger ids are templates unseen in training: the learned
        part reads them as the out-of-vocabulary id.
    dim : int
        Model width.
    mode : {"learned", "semantic", "both"}, default="learned"
    table : array-like of shape (n_ids, d), optional
        Frozen text vectors of the training vocabulary (rows 0 and 1 zero),
        required unless ``mode="learned"``. Kept as a buffer, so training
        batches need only ids; inference batches carry ``vectors`` for the
        unseen templates too.

    Examples
    --------
    >>> import torch
    >>> emb = TemplateEmbedding(4, 3, mode="both", table=torch.ones(4, 5))
    >>> tuple(emb(torch.tensor([[2, 3, 0]])).shape)  # training ids: vectors from the table
    (1, 3, 3)
    >>> unseen = torch.tensor([[2, 9]])  # id 9: unseen in training, its vector given
    >>> tuple(emb(unseen, vectors=torch.ones(1, 2, 5)).shape)
    (1, 2, 3)
    """

    def __init__(self, n_ids, dim, mode="learned", table=None):
        super().__init__()
        if mode not in TEMPLATE_EMBEDDINGS:
            raise ValueError(f"mode must be one of {TEMPLATE_EMBEDDINGS}, got mode={mode!r}.")
        if mode != "learned" and table is None:
            raise ValueError(f"mode={mode!r} needs the table of template vectors.")
        self.mode, self.n_ids, self.dim = mode, int(n_ids), int(dim)
        self.learned = nn.Embedding(n_ids, dim, padding_idx=PAD_ID) if mode != "semantic" else None
        self.projection = None
        if mode != "learned":
            table = torch.as_tensor(table, dtype=torch.float32)
            self.register_buffer("table", table)
            self.projection = nn.Linear(table.shape[1], dim)

    @property
    def weight(self):
        """The learned vectors (``None`` in semantic mode)."""
        return None if self.learned is None else self.learned.weight

    def forward(self, ids, vectors=None):
        """Inputs for ``ids`` ``(b, t)``; ``vectors`` ``(b, t, d)`` are the text vectors of
        every position (default: looked up in the training table)."""
        out = 0.0
        if self.learned is not None:
            out = self.learned(ids.masked_fill(ids >= self.n_ids, OOV_ID))
        if self.projection is not None:
            if vectors is None:
                vectors = self.table[ids]
            semantic = self.projection(vectors.to(self.projection.weight.dtype))
            out = out + semantic.masked_fill((ids == PAD_ID).unsqueeze(-1), 0.0)
        return out
