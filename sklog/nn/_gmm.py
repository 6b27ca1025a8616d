"""The Gaussian-mixture energy of DAGMM (Zong et al., ICLR 2018), as used by MLAD.

An estimation network gives every sample soft memberships ``gamma`` over
``K`` components; the mixture's weights, means and covariances are the
membership-weighted moments of the batch, and a sample's energy is its
negative log-likelihood under that mixture. Low energy = typical.
"""

from __future__ import annotations

import math

import torch

#: Added to every covariance diagonal, so the Cholesky factor exists for singular batches.
COVARIANCE_EPS = 1e-4


def mixture_moments(z, gamma, eps=1e-12):
    """Weights ``phi`` ``(K,)``, means ``mu`` ``(K, d)`` and covariances ``(K, d, d)``
    of the mixture with memberships ``gamma`` ``(n, K)`` over samples ``z`` ``(n, d)``."""
    mass = gamma.sum(0)
    phi = mass / max(len(z), 1)
    mu = gamma.T @ z / (mass[:, None] + eps)
    centred = z[None] - mu[:, None]  # (K, n, d)
    cov = torch.einsum("kn,knd,kne->kde", gamma.T, centred, centred) / (mass[:, None, None] + eps)
    return phi, mu, cov


def mixture_energy(z, phi, mu, cov, eps=COVARIANCE_EPS):
    """``E(z) = -log sum_k phi_k N(z | mu_k, cov_k + eps I)`` for every row of ``z``.

    Components of zero weight (entmax memberships can be exactly zero) are
    left out. Computed in float64: the log-determinants of near-singular
    covariances lose everything in float32.
    """
    z, phi, mu, cov = (t.double() for t in (z, phi, mu, cov))
    d = z.shape[1]
    chol, _ = torch.linalg.cholesky_ex(cov + eps * torch.eye(d, dtype=z.dtype, device=z.device))
    centred = (z[None] - mu[:, None]).transpose(1, 2)  # (K, d, n)
    solved = torch.linalg.solve_triangular(chol, centred, upper=False)
    mahalanobis = (solved**2).sum(1)  # (K, n)
    log_det = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)  # (K,)
    log_density = -0.5 * (d * math.log(2 * math.pi) + log_det[:, None] + mahalanobis)
    # clamp before the log: log(0) would turn the masked entries' zero gradient into NaN
    log_phi = torch.log(phi.clamp(min=1e-300)).masked_fill(phi <= 0, -torch.inf)
    return -torch.logsumexp(log_phi[:, None] + log_density, dim=0)


def covariance_penalty(phi, cov, eps=COVARIANCE_EPS):
    """DAGMM's ``P(Sigma) = sum_k sum_j 1 / Sigma_kjj``, each component weighted by its
    share ``phi_k`` of the batch; it grows as a covariance collapses, so training cannot
    make the energy singular.

    Unweighted (DAGMM), a component holding one or two sessions of a batch has a
    near-zero covariance and its term, up to ``1 / eps`` per dimension, swamps the loss:
    with sparse (entmax) memberships that happens in many batches.
    """
    diagonal = torch.diagonal(cov, dim1=1, dim2=2) + eps
    return (phi[:, None] * (1.0 / diagonal)).sum()
