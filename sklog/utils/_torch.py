"""The one device resolver, seeding helper and thread setting every torch model uses."""

from __future__ import annotations

import contextlib

import numpy as np
from sklearn.utils import check_random_state


def resolve_device(device="auto"):
    """Turn ``"auto"`` into ``"cuda"`` when a GPU is available, else ``"cpu"``.

    Any other value (``"cpu"``, ``"cuda:1"``, a ``torch.device``) is returned as
    a string unchanged. Called in ``fit``, never in ``__init__``.
    """
    import torch

    if device is None or device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def seed_from_random_state(random_state):
    """Draw one integer seed in ``[0, 2**31)`` from ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def torch_generator(seed, device="cpu"):
    """A local ``torch.Generator`` seeded with ``seed`` (global state untouched)."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


@contextlib.contextmanager
def torch_seed(seed, device="cpu"):
    """Run a block with torch's global RNG seeded, restoring the caller's state after.

    skorch initialises modules and shuffles batches with torch's global RNG;
    forking it keeps ``fit`` reproducible without changing the user's
    random stream.
    """
    import torch

    devices = []
    if str(device).startswith("cuda") and torch.cuda.is_available():
        devices = [torch.device(device).index or 0]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


@contextlib.contextmanager
def torch_threads(n_jobs=None):
    """torch's intra-op threads = ``effective_n_jobs(n_jobs)`` (``None``: 1), restored after.

    The per-operation work of these models (hundreds of rows times tens of
    units) is too small to pay for thread synchronisation: on a 2-core machine
    under load, torch's default of one thread per core made a Siamese epoch,
    and a prototypical-network fit, tens of times slower than one thread.
    """
    import torch
    from joblib import effective_n_jobs

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, effective_n_jobs(n_jobs)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def to_numpy(tensor):
    """Detach a tensor to a float/int numpy array on CPU."""
    return tensor.detach().cpu().numpy()
