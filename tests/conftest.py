"""Shared fixtures: the real data in ../shared/data (skipped when absent), tiny sessions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
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


def _hdfs_like_blocks(n_normal=60, n_anomalous=30, seed=0):
    """Raw HDFS-like blocks; only anomalies hold an ``ERROR ... failed`` line (third line)."""
    rng = np.random.RandomState(seed)
    sessions = []
    for i in range(n_normal + n_anomalous):
        block = [f"081109 2035{i % 60:02d} 143 INFO dfs.DataNode$DataXceiver: Receiving block "
                 f"blk_{i} src: /10.0.0.{rng.randint(9)}:50010",
                 f"081109 2035{i % 60:02d} 145 INFO dfs.DataNode$PacketResponder: Received "
                 f"block blk_{i} of size {rng.randint(1000, 9999)} from /10.0.0.{rng.randint(9)}",
                 f"081109 2036{i % 60:02d} 147 INFO dfs.DataNode$PacketResponder: "
                 f"PacketResponder {rng.randint(3)} for block blk_{i} terminating"]
        if i >= n_normal:
            block.insert(2, f"081109 2036{i % 60:02d} 146 ERROR dfs.DataNode$DataXceiver: "
                            f"writeBlock blk_{i} failed: java.io.IOException: Connection reset")
        sessions.append(block)
    return sessions, np.array([0] * n_normal + [1] * n_anomalous)


@pytest.fixture(scope="session")
def hdfs_like_blocks():
    """``hdfs_like_blocks(n_normal, n_anomalous, seed) -> (sessions, y)``: block ``i`` is
    session ``i``, anomalies last."""
    return _hdfs_like_blocks


@pytest.fixture
def scoring_passes(monkeypatch):
    """``passes(model, X, costly)``: how many calls of the model's ``costly`` method
    (its network pass) ``score_sessions`` makes; checks on the way that the decisions and
    scores equal ``predict`` and ``predict_proba``, and ``predict_and_proba`` both."""
    from sklog.inspection import score_sessions

    def passes(model, X, costly):
        labels, proba = model.predict_and_proba(X)
        np.testing.assert_array_equal(labels, model.predict(X))
        np.testing.assert_allclose(proba, model.predict_proba(X))
        calls = []
        method = getattr(type(model), costly)
        monkeypatch.setattr(type(model), costly,
                            lambda self, *a, **k: calls.append(1) or method(self, *a, **k))
        is_anomaly, scores, _ = score_sessions(model, X)
        np.testing.assert_array_equal(is_anomaly, labels == 1)
        np.testing.assert_allclose(scores, proba[:, 1])
        return len(calls)

    return passes
