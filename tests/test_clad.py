"""CLAD: the mLSTM block against its recurrent form, learning from bytes, sklearn integration."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from torch.nn import functional as F

from sklog.clad import CLAD, CLADModule
from sklog.metrics import anomaly_scorer
from sklog.nn._byte_cnn import ByteConvStack
from sklog.nn._losses import focal_loss, supervised_contrastive_loss
from sklog.nn._mlstm import MLSTMLayer, mlstm_parallel, mlstm_recurrent
from sklog.preprocessing import ByteWindower

# the paper's loss (the estimator's default is cross-entropy): on these toy blocks a
# cross-entropy model also separates them, but partly by frame length (an anomalous block
# has one line more), so its gradients point less at the ERROR line
TINY = dict(d_model=16, n_heads=2, n_blocks=1, pretrain_epochs=1, max_epochs=20, lr=1e-3,
            batch_size=16, validation_fraction=0.0, patience=20, random_state=0,
            loss="focal_contrastive", focal_gamma=2.0, class_weight="balanced",
            contrastive_weight=0.1)


def _gates(shape, seed, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    B, H, S, d = shape
    q, k, v = (torch.randn(B, H, S, d, generator=g, dtype=torch.float64) for _ in range(3))
    log_f = F.logsigmoid(scale * torch.randn(B, H, S, generator=g, dtype=torch.float64))
    i_pre = scale * torch.randn(B, H, S, generator=g, dtype=torch.float64)
    return q, k, v, log_f, i_pre


# ------------------------------------------------------------------------ mLSTM
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlstm_parallel_equals_recurrent(seed):
    q, k, v, log_f, i_pre = _gates((2, 3, 23, 8), seed)
    # the stabiliser cancels exactly: with eps=0 both forms agree to rounding
    np.testing.assert_allclose(mlstm_parallel(q, k, v, log_f, i_pre, eps=0.0),
                               mlstm_recurrent(q, k, v, log_f, i_pre, eps=0.0),
                               rtol=1e-10, atol=1e-10)
    # eps is added to differently stabilised normalisers: a tiny, bounded difference
    np.testing.assert_allclose(mlstm_parallel(q, k, v, log_f, i_pre),
                               mlstm_recurrent(q, k, v, log_f, i_pre), atol=1e-5)


def test_mlstm_large_gates_stay_finite_and_equal():
    q, k, v, log_f, i_pre = _gates((1, 2, 40, 4), 3, scale=30.0)  # exp(30) overflows float32
    par = mlstm_parallel(q.float(), k.float(), v.float(), log_f.float(), i_pre.float())
    rec = mlstm_recurrent(q, k, v, log_f, i_pre, eps=0.0)
    assert torch.isfinite(par).all()
    np.testing.assert_allclose(par.double(), rec, atol=1e-4)


def test_mlstm_skipped_positions_are_removed_exactly():
    q, k, v, log_f, i_pre = _gates((1, 2, 15, 4), 4)
    keep = torch.ones(15, dtype=torch.bool)
    keep[[0, 3, 4, 14]] = False
    masked = mlstm_parallel(q, k, v, log_f.masked_fill(~keep, 0.0),
                            i_pre.masked_fill(~keep, -torch.inf), eps=0.0)
    removed = mlstm_parallel(q[:, :, keep], k[:, :, keep], v[:, :, keep], log_f[:, :, keep],
                             i_pre[:, :, keep], eps=0.0)
    np.testing.assert_allclose(masked[:, :, keep], removed, atol=1e-12)
    recurrent = mlstm_recurrent(q, k, v, log_f.masked_fill(~keep, 0.0),
                                i_pre.masked_fill(~keep, -torch.inf), eps=0.0)
    np.testing.assert_allclose(masked[:, :, keep], recurrent[:, :, keep], atol=1e-10)


def test_mlstm_layer_ignores_trailing_padding():
    torch.manual_seed(0)
    layer = MLSTMLayer(8, 2).eval()
    x = torch.randn(1, 10, 8)
    valid = torch.ones(1, 10, dtype=torch.bool)
    padded = torch.cat([x, torch.randn(1, 5, 8)], dim=1)
    valid_padded = torch.cat([valid, torch.zeros(1, 5, dtype=torch.bool)], dim=1)
    np.testing.assert_allclose(layer(x, valid).detach(),
                               layer(padded, valid_padded)[:, :10].detach(), atol=1e-6)


# ----------------------------------------------------------------- the blocks
def test_conv_stack_shortens_16x_and_sees_106_bytes():
    stack = ByteConvStack(8, n_stages=4)
    valid = torch.zeros(2, 100, dtype=torch.bool)
    valid[0], valid[1, :30] = True, True
    h, valid_h, first = stack(torch.randn(2, 100, 8), valid)
    assert h.shape == (2, 7, 8) and first.shape == (2, 100, 8)
    assert valid_h.sum(1).tolist() == [7, 2]
    assert stack.receptive_field() == 106
    flat = ByteConvStack(8, n_stages=0)  # no shortening: the input comes back as it is
    x = torch.randn(2, 100, 8)
    h, valid_h, first = flat(x, valid)
    assert h is not None and first is x and (valid_h == valid).all()


def test_module_masked_byte_outputs_and_padding_invariance():
    torch.manual_seed(0)
    module = CLADModule(n_classes=2, d_model=8, n_heads=2, n_blocks=1).eval()
    ids = torch.randint(0, 256, (3, 40))
    ids[1, 25:] = -1
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[0, [1, 5, 9]] = True
    out = module(ids, mask=mask)
    assert out["byte_logits"].shape == (3, 256)
    assert out["byte_targets"].tolist() == ids[0, [1, 5, 9]].tolist()
    assert out["pooled"].shape == (3, 32) and out["logits"].shape == (3, 2)
    # more padding after a frame changes nothing
    wider = F.pad(ids, (0, 24), value=-1)
    np.testing.assert_allclose(module(wider)["logits"].detach(),
                               module(ids)["logits"].detach(), atol=1e-5)
    assert not np.allclose(module(ids)["logits"][0].detach(), out["logits"][0].detach())


def test_losses():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 1.0]])
    target = torch.tensor([0, 1, 1])
    np.testing.assert_allclose(focal_loss(logits, target, gamma=0.0),
                               F.cross_entropy(logits, target), rtol=1e-6)
    assert focal_loss(logits, target, gamma=2.0) < F.cross_entropy(logits, target)
    alpha = torch.tensor([1.0, 3.0])
    np.testing.assert_allclose(focal_loss(logits, target, 0.0, alpha),
                               F.cross_entropy(logits, target, reduction="none").mul(
                                   alpha[target]).mean(), rtol=1e-6)
    z = F.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]), dim=1)
    together = supervised_contrastive_loss(z, torch.tensor([0, 0, 1, 1]))
    apart = supervised_contrastive_loss(z, torch.tensor([0, 1, 0, 1]))
    assert together < 0.1 < apart
    assert supervised_contrastive_loss(z, torch.tensor([0, 1, 2, 3])) == 0


# -------------------------------------------------------------------- learning
@pytest.fixture(scope="module")
def blocks(hdfs_like_blocks):
    X, y = hdfs_like_blocks(60, 30, seed=0)
    X_test, y_test = hdfs_like_blocks(40, 20, seed=1)
    windower = ByteWindower(codec=None, max_bytes=512).fit(X)
    return windower.transform(X), y, windower.transform(X_test), y_test, X_test


@pytest.fixture(scope="module")
def fitted(blocks):
    B, y, *_ = blocks
    return CLAD(**TINY).fit(B, y)


def test_learns_error_lines_with_margin(fitted, blocks):
    _, _, B_test, y_test, _ = blocks
    assert f1_score(y_test, fitted.predict(B_test)) == 1.0
    proba = fitted.predict_proba(B_test)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert proba[y_test == 1, 1].min() > 0.9 and proba[y_test == 0, 1].max() < 0.1
    scores = fitted.decision_function(B_test)
    assert scores[y_test == 1].min() - scores[y_test == 0].max() > 4.0  # log-odds
    assert fitted.classes_.tolist() == [0, 1]
    assert len(fitted.pretrain_losses_) == 1 and fitted.n_epochs_ == 20
    assert not fitted.net_.mixed_precision  # CPU: float32


def test_batches_are_trimmed_to_their_longest_frame(fitted, blocks, monkeypatch):
    B, y, B_test, _, _ = blocks
    seen = []
    forward = CLADModule.forward

    def spy(self, ids, *args, **kwargs):
        last = ids.shape[1] - int(torch.argmax((ids.flip(1) >= 0).int(), dim=1).min())
        seen.append((ids.shape[1], last))
        return forward(self, ids, *args, **kwargs)

    monkeypatch.setattr(CLADModule, "forward", spy)
    CLAD(**{**TINY, "max_epochs": 1, "validation_fraction": 0.2}).fit(B, y)  # both stages
    n_fit = len(seen)
    scores = fitted.decision_function(B_test)
    assert n_fit > 4 and len(seen) > n_fit
    for width, last in seen:  # every batch ends at its longest frame's last byte
        assert width == last < B.shape[1]
    # identical to scoring every row padded to max_bytes in one batch
    module = fitted.net_.module_.eval()
    with torch.no_grad():
        full = forward(module, torch.as_tensor(B_test))["logits"].double().numpy()
    np.testing.assert_allclose(scores, full[:, 1] - full[:, 0] - fitted.threshold_, atol=1e-5)


def test_explain_points_at_the_error_line(fitted, blocks):
    _, _, B_test, y_test, X_test = blocks
    contributions = fitted.explain(B_test[y_test == 1])
    assert contributions.shape == (20, 512)
    assert (contributions[B_test[y_test == 1] < 0] == 0).all()  # padding
    hits = 0
    for row, session in zip(contributions, [X_test[i] for i in np.flatnonzero(y_test)],
                            strict=True):
        ends = np.cumsum([len(line.encode()) + 1 for line in session])
        per_line = [row[start:end].sum() for start, end in zip([0, *ends[:-1]], ends,
                                                               strict=True)]
        hits += int(np.argmax(per_line) == 2)  # the ERROR line is the third
    assert hits >= 15


def test_same_seed_same_predictions_and_joblib(fitted, blocks, tmp_path):
    B, y, B_test, _, _ = blocks
    again = CLAD(**{**TINY, "max_epochs": 3}).fit(B[::2], y[::2])
    twice = CLAD(**{**TINY, "max_epochs": 3}).fit(B[::2], y[::2])
    np.testing.assert_array_equal(again.decision_function(B_test),
                                  twice.decision_function(B_test))
    path = tmp_path / "clad.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict(B_test), fitted.predict(B_test))
    np.testing.assert_array_equal(loaded.predict_proba(B_test), fitted.predict_proba(B_test))


def test_clone_keeps_parameters(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "net_")


@pytest.mark.parametrize("ablation", [
    {"pretrain_epochs": 0}, {"loss": "cross_entropy"}, {"encoder": "transformer"},
    {"class_weight": "balanced_sqrt", "focal_gamma": 1.0, "contrastive_weight": 0.05},
    {"lr_schedule": "warmup_cosine"},
])
def test_ablations_train(ablation, blocks):
    B, y, B_test, y_test, _ = blocks
    clf = CLAD(**{**TINY, "max_epochs": 12, **ablation}).fit(B, y)
    assert f1_score(y_test, clf.predict(B_test)) >= 0.9
    if "encoder" in ablation:
        assert not any(type(m).__name__ == "MLSTMLayer" for m in clf.net_.module_.modules())
    # the schedule ends at 1% of the peak rate; a constant rate stays at lr
    final_lr = clf.net_.optimizer_.param_groups[0]["lr"]
    expected = TINY["lr"] * (0.01 if "lr_schedule" in ablation else 1.0)
    assert final_lr == pytest.approx(expected)


def test_pipeline_and_grid_search_with_anomaly_scorer(hdfs_like_blocks):
    X, y = hdfs_like_blocks(24, 12, seed=2)
    pipe = make_pipeline(ByteWindower(codec=None, max_bytes=512),
                         CLAD(**{**TINY, "max_epochs": 4, "pretrain_epochs": 0}))
    search = GridSearchCV(pipe, {"clad__loss": ["focal_contrastive", "cross_entropy"]},
                          scoring=anomaly_scorer("f1"),
                          cv=StratifiedKFold(2, shuffle=True, random_state=0))
    search.fit(X, y)
    assert search.best_params_["clad__loss"] in {"focal_contrastive", "cross_entropy"}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict(X).shape == (36,)


def test_early_stopping_on_held_out_training_data(blocks):
    B, y, *_ = blocks
    clf = CLAD(**{**TINY, "validation_fraction": 0.2, "patience": 2, "max_epochs": 30,
                  "lr": 1e-2, "pretrain_epochs": 0}).fit(B[::2], y[::2])
    history = clf.net_.history
    assert "valid_loss" in history[-1] and clf.n_epochs_ < 30
    best, lowest = 0, np.inf
    for epoch, loss in enumerate(history[:, "valid_loss"]):  # skorch: 1e-4 relative better
        if loss < lowest * (1 - 1e-4):
            best, lowest = epoch, loss
    assert clf.n_epochs_ == best + 1 + 2  # patience 2 after the best epoch
    assert clf.class_weights_ == pytest.approx([0.75, 1.5])  # 24 normal, 12 anomalous


def test_input_errors(fitted, blocks):
    B, y, *_ = blocks
    with pytest.raises(TypeError, match="ByteWindower"):
        CLAD().fit([["a line", "another"]], [0])
    with pytest.raises(TypeError, match="sequence of sessions"):
        CLAD().fit("just one line of log", [0])
    with pytest.raises(ValueError, match="-1..255"):
        CLAD().fit(B + 300, y)
    with pytest.raises(ValueError, match="-1..255"):
        fitted.predict(B[:3] + 0.5)
    with pytest.raises(ValueError, match="512 features"):
        fitted.predict(B[:, :100])
    with pytest.raises(ValueError, match="two classes"):
        CLAD().fit(B[:5], np.zeros(5))
    with pytest.raises(ValueError, match="n_heads=3 must divide d_model=16"):
        CLAD(d_model=16, n_heads=3).fit(B, y)


def test_empty_frames_score():
    B = np.full((8, 64), -1, dtype=np.int16)
    B[:4, :20] = np.arange(20)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    clf = CLAD(**{**TINY, "max_epochs": 2}).fit(B, y)
    assert np.isfinite(clf.predict_proba(B)).all()
    assert np.isfinite(clf.explain(B)).all()


@pytest.mark.slow
def test_learns_from_zstd_frames(hdfs_like_blocks):
    X, y = hdfs_like_blocks(300, 100, seed=0)
    X_test, y_test = hdfs_like_blocks(100, 50, seed=1)
    pipe = make_pipeline(ByteWindower(max_bytes=512), CLAD(**{**TINY, "max_epochs": 15}))
    pipe.fit(X, y)
    assert f1_score(y_test, pipe.predict(X_test)) == 1.0


def test_class_weight_options_and_threshold(blocks):
    B, y, B_test, y_test, _ = blocks
    base = {**TINY, "max_epochs": 1, "pretrain_epochs": 0}
    sqrt = CLAD(**{**base, "class_weight": "balanced_sqrt"}).fit(B[::2], y[::2])  # 30/15
    assert sqrt.class_weights_ == pytest.approx(np.sqrt([0.75, 1.5]))
    assert sqrt.threshold_ == 0.0  # no held-out part: argmax
    fixed = CLAD(**base, threshold=1.5).fit(B[::2], y[::2])
    logits = fixed._raw_logits(B_test)
    np.testing.assert_allclose(fixed.decision_function(B_test), logits[:, 1] - logits[:, 0] - 1.5)
    np.testing.assert_array_equal(fixed.predict(B_test),
                                  (fixed.decision_function(B_test) > 0).astype(int))
    np.testing.assert_array_equal(fixed.predict(B_test),
                                  np.argmax(fixed.predict_proba(B_test), axis=1))


def test_f1_threshold_is_the_best_cut_between_distinct_scores():
    from sklog.clad import _f1_threshold

    scores = np.array([3.0, 2.0, 2.0, 1.0, 0.0, -1.0])
    positive = np.array([True, True, False, True, False, False])
    # cuts: {3} F1 .5, {3,2,2} F1 .667, {3,2,2,1} F1 .857, more: lower
    assert _f1_threshold(scores, positive) == 0.5
    assert _f1_threshold(np.array([1.0, 1.0]), np.array([True, False])) == 0.0


def test_predict_and_proba_is_one_pass_with_the_same_results(fitted, blocks, scoring_passes):
    _, _, B_test, *_ = blocks
    assert scoring_passes(fitted, B_test, "_raw_logits") == 1  # the harness scores this way
