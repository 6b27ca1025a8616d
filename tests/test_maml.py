"""MAMLClassifier: meta-learnt initial weights that a few labelled rows adapt to a new system."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone

from sklog.meta import MAMLClassifier
from sklog.nn._proto import ClassifierMLP, maml_loss

FAST = {"hidden": (32,), "n_episodes": 50, "max_epochs": 10, "lr": 1e-2, "inner_lr": 0.5,
        "adapt_steps": 5}


def _system(shift, n, rng):
    """Normal rows near ``shift``, anomalies 0.5 further on the first two axes (scaled)."""
    y = (rng.random(n) < 0.3).astype(int)
    X = rng.normal(0, 1, (n, 6))
    X[:, :2] += shift + 3 * y[:, None]
    return X / 6, y


@pytest.fixture(scope="module")
def systems():
    rng = np.random.default_rng(0)
    parts = [_system(shift, 200, rng) for shift in (-6, -2, 2, 6)]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return X, y, np.repeat([0, 1, 2, 3], 200), _system(9, 300, rng)


@pytest.fixture(scope="module")
def fitted(systems):
    X, y, groups, _ = systems
    return MAMLClassifier(**FAST, random_state=0).fit(X, y, groups=groups)


def test_a_few_labelled_rows_adapt_it_to_a_new_system(systems, fitted):
    *_, (X_target, y_target) = systems
    support = np.r_[np.flatnonzero(y_target == 0)[:5], np.flatnonzero(y_target == 1)[:5]]
    test = np.setdiff1d(np.arange(len(y_target)), support)
    before = (fitted.predict(X_target[test]) == y_target[test]).mean()
    adapted = fitted.adapt(X_target[support], y_target[support])
    after = (adapted.predict(X_target[test]) == y_target[test]).mean()
    assert after > 0.85 and after > before + 0.3
    np.testing.assert_array_equal(fitted.predict(X_target), MAMLClassifier(
        **FAST, random_state=0).fit(*systems[:2], groups=systems[2]).predict(X_target))


def test_maml_loss_second_and_first_order():
    """The meta-gradient flows through the inner step unless first order drops that path."""
    torch.manual_seed(0)
    module = ClassifierMLP(3, (4,), 2)
    s, sy = torch.randn(2, 5, 3), torch.randint(0, 2, (2, 5))
    q, qy = torch.randn(2, 6, 3), torch.randint(0, 2, (2, 6))
    grads = []
    for first_order in (False, True):
        module.zero_grad()
        maml_loss(module, s, sy, q, qy, 0.5, 2, first_order).backward()
        grads.append(torch.cat([p.grad.flatten() for p in module.parameters()]))
    assert torch.isfinite(grads[0]).all() and not torch.allclose(grads[0], grads[1])
    module.zero_grad()  # zero inner steps: plain query loss of the initial weights
    loss = maml_loss(module, s, sy, q, qy, 0.5, 0, False)
    direct = torch.stack([torch.nn.functional.cross_entropy(module(q[t]), qy[t])
                          for t in range(2)]).mean()
    torch.testing.assert_close(loss, direct)


def test_joblib_clone_and_one_class_support(systems, fitted, tmp_path):
    *_, (X_target, y_target) = systems
    joblib.dump(fitted, tmp_path / "m.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").predict_proba(X_target),
                                  fitted.predict_proba(X_target))
    assert clone(fitted).get_params() == fitted.get_params()
    normal = np.flatnonzero(y_target == 0)[:5]
    with pytest.warns(UserWarning, match="one class"):
        fitted.adapt(X_target[normal], y_target[normal])
    with pytest.raises(ValueError, match="never seen in fit"):
        fitted.adapt(X_target[:2], [0, 5])
