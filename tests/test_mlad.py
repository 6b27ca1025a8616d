"""MLAD and its building blocks (entmax attention, mixture energy): tiny, CPU, seconds."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV

from sklog.metrics import anomaly_scorer
from sklog.mlad import MLAD
from sklog.nn._gmm import COVARIANCE_EPS, covariance_penalty, mixture_energy, mixture_moments
from sklog.nn._transformer import EntmaxSelfAttention, attention_mask

TINY = dict(d_model=8, n_heads=2, d_ff=16, latent_dim=3, n_components=2, max_epochs=8,
            batch_size=8, template_embedding="learned", random_state=0)


def _normal(X, y):
    return [s for s, label in zip(X, y, strict=True) if label == 0]


def test_anomalies_score_above_normal_sessions(toy_template_sessions):
    X, y = toy_template_sessions
    y = np.asarray(y)
    det = MLAD(**TINY).fit(_normal(X, y))
    scores = det.anomaly_score(X)
    assert roc_auc_score(y, scores) == 1.0
    assert (det.predict(X)[y == 1] == -1).all()
    np.testing.assert_allclose(det.score_samples(X), -scores)
    np.testing.assert_allclose(det.decision_function(X), -scores - det.offset_)


def test_same_seed_same_scores(toy_template_sessions):
    X, _ = toy_template_sessions
    a = MLAD(**TINY).fit(X).anomaly_score(X)
    np.testing.assert_array_equal(a, MLAD(**TINY).fit(X).anomaly_score(X))
    assert not np.array_equal(a, MLAD(**{**TINY, "random_state": 1}).fit(X).anomaly_score(X))


def test_scores_do_not_depend_on_the_batch(toy_template_sessions):
    X, _ = toy_template_sessions
    det = MLAD(**TINY).fit(X)
    together = det.anomaly_score(X)
    alone = np.array([det.anomaly_score([s])[0] for s in X[:6]])
    np.testing.assert_allclose(alone, together[:6], rtol=1e-5)


def test_without_mixture_the_score_is_the_prediction_error(toy_template_sessions):
    X, y = toy_template_sessions
    det = MLAD(**{**TINY, "gaussian_mixture": False}).fit(_normal(X, y))
    out = det.net_.module_(*[torch.as_tensor(a) for a in det._encode(X)[:2]])
    np.testing.assert_allclose(det.anomaly_score(X), out["error_mean"].detach().numpy(),
                               rtol=1e-5)
    assert roc_auc_score(y, det.anomaly_score(X)) == 1.0


def test_use_labels_trains_on_normal_sessions_only(toy_template_sessions):
    X, y = toy_template_sessions
    with_labels = MLAD(**{**TINY, "use_labels": True}).fit(X, y)
    normal_only = MLAD(**TINY).fit(_normal(X, y))
    np.testing.assert_array_equal(with_labels.anomaly_score(X), normal_only.anomaly_score(X))
    with pytest.warns(UserWarning, match="anomalies"):
        MLAD(**TINY).fit(X, y)
    with pytest.raises(ValueError, match="needs y"):
        MLAD(**{**TINY, "use_labels": True}).fit(X)


def test_contamination_float_flags_that_share_of_training(toy_template_sessions):
    X, _ = toy_template_sessions
    det = MLAD(**{**TINY, "contamination": 0.25}).fit(X)
    assert (det.predict(X) == -1).mean() <= 0.25 + 1e-9


def test_auto_threshold_is_a_quantile_of_held_out_energies():
    """contamination="auto": one cut for every session, the 99.5th percentile of the energies
    of the held-out training sessions (chosen on validation re-splits: see MLAD's Notes)."""
    from sklog.mlad import AUTO_QUANTILE
    from sklog.nn._detector import THRESHOLD_MARGIN
    from sklog.utils import seed_from_random_state

    rng = np.random.RandomState(0)
    X = [["open <*>", *["read <*>"] * rng.randint(1, 8), *["write <*>"] * rng.randint(0, 3),
          "close <*>"] for _ in range(300)]
    det = MLAD(**{**TINY, "max_epochs": 2}).fit(X)
    _, held_out = det._held_out_split(len(X), seed_from_random_state(0))
    assert len(held_out) == 30
    energies = det.anomaly_score([X[i] for i in held_out])
    cut = np.quantile(energies, 0.995)
    assert AUTO_QUANTILE == 0.995
    assert det.threshold_ == pytest.approx(cut + THRESHOLD_MARGIN * abs(cut), rel=1e-6)
    assert det.offset_ == -det.threshold_
    # below the held-out maximum (the rule is a quantile, not ALogSCAN's maximum)
    assert det.threshold_ < energies.max()
    # one offset for every session: decision_function is score_samples - offset_
    np.testing.assert_allclose(det.decision_function(X), det.score_samples(X) - det.offset_)


def test_explain_ranks_the_error_line_first(toy_template_sessions):
    X, y = toy_template_sessions
    det = MLAD(**TINY).fit(_normal(X, y))
    session = ["open <*>", "error <*>", "close <*>"]
    (contrib,) = det.explain([session])
    assert contrib.shape == (3,)
    assert int(np.argmax(contrib)) == 1


def test_empty_and_unseen_sessions_get_finite_scores(toy_template_sessions):
    X, y = toy_template_sessions
    det = MLAD(**TINY).fit(_normal(X, y))
    scores = det.anomaly_score([[], ["never seen <*>"], ["open <*>"]])
    assert np.isfinite(scores).all()
    assert scores[1] > det.threshold_


def test_joblib_round_trip_and_grid_search(toy_template_sessions, tmp_path):
    X, y = toy_template_sessions
    det = MLAD(**TINY).fit(_normal(X, y))
    joblib.dump(det, tmp_path / "mlad.joblib")
    loaded = joblib.load(tmp_path / "mlad.joblib")
    np.testing.assert_array_equal(loaded.anomaly_score(X), det.anomaly_score(X))
    order = np.random.RandomState(0).permutation(len(X))
    Xs, ys = [X[i] for i in order], np.asarray(y)[order]
    grid = GridSearchCV(clone(det).set_params(max_epochs=2), {"alpha": [1.0, 1.5]},
                        scoring=anomaly_scorer("roc_auc"), cv=2)
    with pytest.warns(UserWarning, match="anomalies"):
        grid.fit(Xs, ys)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_parameter_errors():
    with pytest.raises(ValueError, match="must divide"):
        MLAD(d_model=10, n_heads=3).fit([["a"]] * 3)
    with pytest.raises(ValueError, match="alpha"):
        MLAD(alpha=0.5).fit([["a"]] * 3)


def test_semantic_vectors_reach_unseen_templates(toy_template_sessions):
    X, y = toy_template_sessions
    det = MLAD(**{**TINY, "template_embedding": "semantic", "max_epochs": 2}).fit(_normal(X, y))
    assert det.template_vectors_.shape == (2 + 4, 384)
    ids, _, table = det._encode([["open <*>", "reading <*>"]])
    assert ids[0, 1] >= det.vocabulary_.size  # its own id, not the OOV id
    np.testing.assert_allclose(table[ids[0, 1]], det.embedder_.embed_templates(["reading <*>"])[0])
    assert np.isfinite(det.anomaly_score([["open <*>", "reading <*>"]])).all()


# ---------------------------------------------------------------- building blocks
@pytest.mark.parametrize("alpha, sparse", [(1.0, False), (1.5, True), (1.2, True)])
def test_entmax_attention_weights(alpha, sparse):
    torch.manual_seed(0)
    attention = EntmaxSelfAttention(8, 2, alpha=alpha)
    valid = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    allowed = attention_mask(valid, causal=True)
    _, weights = attention(torch.randn(2, 6, 8) * 3, allowed)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 6))
    assert (weights[~allowed.unsqueeze(1).expand_as(weights)] == 0).all()  # future and padding
    assert bool((weights[allowed.unsqueeze(1).expand_as(weights)] == 0).any()) == sparse


def test_mixture_energy_matches_scipy():
    rng = np.random.RandomState(0)
    z = torch.as_tensor(rng.randn(50, 3))
    gamma = torch.softmax(torch.as_tensor(rng.randn(50, 2)), dim=1)
    phi, mu, cov = mixture_moments(z, gamma)
    energy = mixture_energy(z, phi, mu, cov).numpy()
    eye = COVARIANCE_EPS * np.eye(3)
    expected = -logsumexp([np.log(phi[k].item()) + multivariate_normal(
        mu[k].numpy(), cov[k].numpy() + eye).logpdf(z.numpy()) for k in range(2)], axis=0)
    np.testing.assert_allclose(energy, expected, rtol=1e-8)
    # a component of zero weight drops out of the energy and of the penalty
    phi0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    np.testing.assert_allclose(mixture_energy(z, phi0, mu, cov).numpy(), -multivariate_normal(
        mu[0].numpy(), cov[0].numpy() + eye).logpdf(z.numpy()), rtol=1e-8)
    assert covariance_penalty(phi0, cov) == pytest.approx(
        (1 / (torch.diagonal(cov[0]) + COVARIANCE_EPS)).sum().item())
    # components count by their share of the batch
    assert covariance_penalty(phi, cov) == pytest.approx(sum(
        phi[k].item() * (1 / (torch.diagonal(cov[k]) + COVARIANCE_EPS)).sum().item()
        for k in range(2)))


def test_a_component_of_zero_weight_gives_finite_gradients():
    z = torch.randn(20, 3, dtype=torch.float64, requires_grad=True)
    gamma = torch.zeros(20, 2, dtype=torch.float64)
    gamma[:, 0] = 1.0  # entmax can leave a component with no mass at all
    phi, mu, cov = mixture_moments(z, gamma)
    (mixture_energy(z, phi, mu, cov).mean() + covariance_penalty(phi, cov)).backward()
    assert torch.isfinite(z.grad).all()


def test_semantic_mlad_runs_offline_and_handles_a_huge_template(tmp_path):
    """Nothing is downloaded: fit and predict with HF_HUB_OFFLINE=1 in a fresh process; a
    100k-character template is truncated by the tokenizer with a warning."""
    import os
    import subprocess
    import sys

    script = (
        "import warnings, numpy as np\n"
        "from sklog.mlad import MLAD\n"
        "X = [['open <*>', 'read <*>', 'close <*>']] * 20\n"
        "det = MLAD(d_model=4, n_heads=2, d_ff=8, latent_dim=2, n_components=2, max_epochs=1,"
        " random_state=0).fit(X)\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    s = det.anomaly_score([['open <*>', 'x' * 100_000]])\n"
        "assert np.isfinite(s).all(), s\n"
        "messages = [str(w.message) for w in caught]\n"
        "assert any('truncat' in m for m in messages), messages\n"
        "print('ok')\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "empty_hf_home"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_transition_memory_flags_known_templates_in_an_unseen_order():
    rng = np.random.RandomState(0)
    normal = [["boot"] + ["read"] * rng.randint(2, 6) + ["close"] for _ in range(80)]
    reordered = [["read"] * 4 + ["boot", "close"], ["boot", "close"] + ["read"] * 3]
    plain = MLAD(**TINY).fit(normal)
    det = MLAD(**TINY, transition_memory=True).fit(normal)
    assert plain.transitions_ is None and plain.transition_weight_ == 0.0
    assert det.transition_weight_ > 0
    # unseen: start->read, read->boot, close->end (first); boot->close, close->read,
    # read->end (second); the network part of the score is the plain model's
    np.testing.assert_allclose(
        det.anomaly_score(reordered) - plain.anomaly_score(reordered),
        det.transition_weight_ * np.array([3, 3]), rtol=1e-5)
    np.testing.assert_array_equal(det.predict(reordered), [-1, -1])
    np.testing.assert_allclose(det.anomaly_score(normal[:5]), plain.anomaly_score(normal[:5]),
                               rtol=1e-5)
    # explain charges each unseen transition's weight to the line entering it
    added = det.explain(reordered)[0] - plain.explain(reordered)[0]
    np.testing.assert_allclose(added / det.transition_weight_, [1, 0, 0, 0, 1, 1], atol=1e-5)


def test_transition_memory_leaves_the_held_out_sessions_out():
    # every session starts with its own template, so the memory shows which sessions it saw
    X = [[f"start {i}", "read", "close"] for i in range(50)]
    det = MLAD(**TINY, transition_memory=True, validation_fraction=0.2).fit(X)
    remembered = {i for i in range(50) if (None, f"start {i}") in det.transitions_.transitions_}
    assert len(remembered) == 40  # the held-out fifth is scored against the memory
    # so each held-out session brings two unseen transitions (start -> it -> read) and
    # the "auto" threshold, a quantile of the held-out scores, lies above one of them
    held_out = [X[i] for i in range(50) if i not in remembered]
    assert (det.transitions_.count_unseen(held_out) == 2).all()
    assert det.threshold_ > det.transition_weight_ * 2
