"""Shared fixtures: the real data in ../shared/data (skipped when absent), tiny sessions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SKLOG_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_configure(config):
    try:
        import torch

        # Test models are tiny: one intra-op thread is fastest and keeps results
        # identical across machines. OMP_NUM_THREADS overrides.
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or 1))
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture(scope="session")
def shared_data():
    """Path to ../shared/data; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture()
def toy_template_sessions():
    """Forty tiny sessions of template strings with 0/1 labels (anomalies hold 'error')."""
    normal = [["open <*>", "read <*>", "close <*>"], ["open <*>", "write <*>", "close <*>"]]
    abnormal = [["open <*>", "error <*>", "close <*>"], ["open <*>", "error <*>"]]
    X = [list(normal[i % 2]) for i in range(30)] + [list(abnormal[i % 2]) for i in range(10)]
    y = [0] * 30 + [1] * 10
    return X, y
