"""Classification losses for imbalanced labels: focal loss and supervised contrastive loss."""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["focal_loss", "supervised_contrastive_loss"]


def focal_loss(logits, target, gamma=2.0, alpha=None):
    """Mean focal loss ``-alpha_y (1 - p_y)^gamma log p_y`` (Lin et al. 2017).

    Parameters
    ----------
    logits : tensor ``(n, n_classes)``
    target : tensor ``(n,)`` of class indices
    gamma : float, default=2.0
        ``0`` is (weighted) cross-entropy.
    alpha : tensor ``(n_classes,)`` or None
        Per-class weights (``None``: all 1); the mean is taken over samples,
        not over weights.
    """
    log_p = F.log_softmax(logits, dim=-1).gather(1, target[:, None]).squeeze(1)
    loss = -((1.0 - log_p.exp()).clamp(min=0.0) ** gamma) * log_p
    if alpha is not None:
        loss = alpha.to(loss.dtype)[target] * loss
    return loss.mean() if len(loss) else logits.sum() * 0.0


def supervised_contrastive_loss(z, target, temperature=0.1):
    """Supervised contrastive loss (Khosla et al. 2020, the ``L_out`` form) of one batch.

    Each anchor's positives are the other samples of its class; the loss is
    ``-mean_p log(exp(z_i . z_p / T) / sum_{a != i} exp(z_i . z_a / T))``,
    averaged over anchors that have a positive (0 when none has).

    Parameters
    ----------
    z : tensor ``(n, d)``
        L2-normalised vectors.
    target : tensor ``(n,)``
    temperature : float, default=0.1
    """
    n = len(z)
    if n < 2:
        return z.sum() * 0.0
    similarity = (z @ z.T) / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    similarity = similarity.masked_fill(self_mask, -torch.inf)
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positives = (target[:, None] == target[None, :]) & ~self_mask
    n_positives = positives.sum(1)
    has = n_positives > 0
    if not has.any():
        return z.sum() * 0.0
    per_anchor = log_prob.masked_fill(~positives, 0.0).sum(1)[has] / n_positives[has]
    return -per_anchor.mean()
