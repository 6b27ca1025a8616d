"""CLAD: log anomaly classification straight from compressed bytes (Tang & Yang,
arXiv 2604.13024).

Normal logs compress into regular byte patterns and anomalies break them, so
CLAD reads the bytes of each session's compressed frame
(:class:`~sklog.preprocessing.ByteWindower`) without decompressing, parsing or
templating: a byte embedding, dilated residual convolutions that shorten the
sequence 16x, a hybrid encoder of self-attention and mLSTM (xLSTM) layers,
four-way pooling and a small classification head. Training has two stages:
masked byte modelling on all training windows, then fine-tuning with focal
loss plus a supervised contrastive loss.
"""

from __future__ import annotations

import numbers
import time

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from torch import nn
from torch.nn import functional as F

from .nn import SessionDataset, SessionModelMixin, SessionNet, silent
from .nn._byte_cnn import ByteConvStack
from .nn._estimator import BATCH_ACTIVATION_BYTES
from .nn._losses import focal_loss, supervised_contrastive_loss
from .nn._mlstm import MLSTMLayer
from .nn._pooling import FourWayPooling
from .nn._schedules import warmup_cosine_callback
from .nn._transformer import EntmaxEncoderLayer, attention_mask, sinusoidal_positions
from .utils import resolve_device, seed_from_random_state, to_numpy

__all__ = ["CLAD", "CLADModule", "N_BYTE_TOKENS", "make_clad_pipeline"]

#: Token ids of the byte embedding: bytes 0-255, then padding, mask and CLS.
PAD_TOKEN, MASK_TOKEN, CLS_TOKEN = 256, 257, 258
N_BYTE_TOKENS = 259

_EXPECTED = (
    "CLAD expects ByteWindower output: a 2-D integer array of byte values 0-255 with -1 "
    "padding, one row per session (from a sequence of sessions, use "
    "make_pipeline(ByteWindower(), CLAD()))"
)


class CLADModule(nn.Module):
    """Bytes -> embedding -> dilated conv stack -> hybrid encoder -> four-way pooling -> head.

    ``forward(ids, lengths=None, mask=None, inputs=None)`` reads ``ids``
    ``(b, t)`` (bytes 0-255, ``-1`` padding) and returns a dict with the
    class ``logits``, the ``pooled`` vector (``4 * d_model``) and the
    attention-pooling ``weights``. With a boolean ``mask`` ``(b, t)`` the
    masked bytes are replaced by the mask token and ``byte_logits`` /
    ``byte_targets`` of the masked positions come back too (masked byte
    modelling). ``inputs`` replaces the byte embeddings (gradient
    explanations).

    Parameters
    ----------
    n_classes : int
    d_model, n_heads, n_blocks, n_conv_stages, dropout, encoder
        See :class:`CLAD`.
    """

    def __init__(self, n_classes=2, d_model=64, n_heads=4, n_blocks=2, n_conv_stages=4,
                 dropout=0.1, encoder="hybrid"):
        super().__init__()
        self.embedding = nn.Embedding(N_BYTE_TOKENS, d_model, padding_idx=PAD_TOKEN)
        # a byte value never seen in training still gets a meaningful vector from its bits
        self.byte_features = nn.Linear(9, d_model)
        self.register_buffer("_bit_shifts", torch.arange(8), persistent=False)
        self.conv = ByteConvStack(d_model, n_conv_stages, dropout=dropout)
        layers = []
        for _ in range(n_blocks):
            if encoder == "hybrid":
                layers.append(MLSTMLayer(d_model, n_heads, dropout=dropout))
            else:  # the ablation without mLSTM: self-attention in its place
                layers.append(EntmaxEncoderLayer(d_model, n_heads, 2 * d_model, 1.0, dropout))
            layers.append(EntmaxEncoderLayer(d_model, n_heads, 2 * d_model, 1.0, dropout))
        self.layers = nn.ModuleList(layers)
        self.pool = FourWayPooling(d_model)
        self.head = nn.Sequential(
            nn.LayerNorm(4 * d_model), nn.Dropout(dropout), nn.Linear(4 * d_model, d_model),
            nn.GELU(), nn.Dropout(dropout), nn.Linear(d_model, n_classes))
        # masked byte modelling: encoder state of the byte's patch + local conv features +
        # the byte's offset within the patch -> logits over the 256 bytes
        self.offset = nn.Embedding(self.conv.factor, d_model)
        self.byte_head = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, 256))

    def embed(self, ids, mask=None):
        """Byte embeddings ``(b, t, d)`` of ``ids``: a learned vector per token plus a linear
        map of the byte's 8 bits (as -1/+1) and its value scaled to [-1, 1] (zero for the
        padding and mask tokens)."""
        ids = ids.long()
        byte = ids >= 0
        if mask is not None:
            byte = byte & ~mask
        tokens = ids.masked_fill(ids < 0, PAD_TOKEN)
        if mask is not None:
            tokens = tokens.masked_fill(mask, MASK_TOKEN)
        value = ids.clamp(min=0)
        bits = (value.unsqueeze(-1) >> self._bit_shifts) & 1
        features = torch.cat([bits.float() * 2 - 1, value.unsqueeze(-1).float() / 127.5 - 1],
                             dim=-1) * byte.unsqueeze(-1)
        return self.embedding(tokens) + self.byte_features(features)

    def forward(self, ids, lengths=None, mask=None, inputs=None):
        valid = ids >= 0
        x = self.embed(ids, mask) if inputs is None else inputs
        # byte offsets matter in a frame (its header fields sit at fixed offsets)
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device).to(x.dtype)
        h, valid_h, first = self.conv(x, valid)
        b, t, d = h.shape
        h = h + sinusoidal_positions(t, d, h.device).to(h.dtype)
        cls = self.embedding.weight[CLS_TOKEN].to(h.dtype).expand(b, 1, d)
        h = torch.cat([cls, h], dim=1)
        valid_h = F.pad(valid_h, (1, 0), value=True)
        allowed = attention_mask(valid_h, causal=False)
        for layer in self.layers:
            if isinstance(layer, MLSTMLayer):
                h = layer(h, valid_h)
            else:
                h, _ = layer(h, allowed)
        pooled, weights = self.pool(h, valid_h)
        out = {"logits": self.head(pooled), "pooled": pooled, "weights": weights}
        if mask is not None:
            factor = self.conv.factor
            rows, cols = mask.nonzero(as_tuple=True)
            patch = h[rows, 1 + cols // factor]
            state = patch + first[rows, cols] + self.offset(cols % factor)
            out["byte_logits"] = self.byte_head(state)
            out["byte_targets"] = ids[rows, cols].long()
        return out


class _AutocastMixin:
    """bfloat16 autocast around the forward pass when ``mixed_precision`` (CUDA only)."""

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=bool(self.mixed_precision))


class _MaskedByteNet(_AutocastMixin, SessionNet):
    """Stage 1: masked byte modelling. Each batch masks ``mask_ratio`` of its valid bytes
    (drawn from torch's global RNG, seeded by the estimator) and is scored by the
    cross-entropy of the masked bytes."""

    def __init__(self, module, *args, mask_ratio=0.15, mixed_precision=False, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.mask_ratio, self.mixed_precision = mask_ratio, mixed_precision

    def infer(self, x, **fit_params):
        from skorch.utils import to_tensor

        x = to_tensor(x, device=self.device)
        ids = x["ids"]
        mask = (torch.rand(ids.shape, device=ids.device) < self.mask_ratio) & (ids >= 0)
        with self._autocast():
            return self.module_(**x, mask=mask, **fit_params)

    def get_loss(self, y_pred, y_true=None, X=None, training=False):
        logits = y_pred["byte_logits"].float()
        if not len(logits):
            return y_pred["logits"].sum() * 0.0
        return F.cross_entropy(logits, y_pred["byte_targets"])


class _CLADNet(_AutocastMixin, SessionNet):
    """Stage 2: focal loss (class weights ``alpha``) plus ``contrastive_weight`` times the
    supervised contrastive loss of the normalised pooled vectors; or plain cross-entropy."""

    def __init__(self, module, *args, loss="focal_contrastive", focal_gamma=2.0, alpha=None,
                 contrastive_weight=0.1, temperature=0.1, mixed_precision=False, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.loss, self.focal_gamma, self.alpha = loss, focal_gamma, alpha
        self.contrastive_weight, self.temperature = contrastive_weight, temperature
        self.mixed_precision = mixed_precision

    def infer(self, x, **fit_params):
        with self._autocast():
            return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        from skorch.utils import to_tensor

        logits = y_pred["logits"].float()
        target = to_tensor(y_true, device=logits.device).long()
        if self.loss == "cross_entropy":
            return F.cross_entropy(logits, target)
        alpha = None if self.alpha is None else torch.as_tensor(
            self.alpha, dtype=torch.float32, device=logits.device)
        loss = focal_loss(logits, target, self.focal_gamma, alpha)
        if self.contrastive_weight:
            z = F.normalize(y_pred["pooled"].float(), dim=-1)
            loss = loss + self.contrastive_weight * supervised_contrastive_loss(
                z, target, self.temperature)
        return loss


def _reject_text(X):
    """``TypeError`` for text where bytes are expected (a session, or sessions of lines)."""
    if isinstance(X, (str, bytes, bytearray)):
        raise TypeError(f"{_EXPECTED}; got a single {type(X).__name__} instead of a "
                        "sequence of sessions.")
    if isinstance(X, (list, tuple)):  # peek without consuming an iterator
        first = X[0] if len(X) else None
        inner = next(iter(first), None) if hasattr(first, "__iter__") else None
        if isinstance(first, (str, bytes)) or isinstance(inner, (str, bytes)):
            raise TypeError(f"{_EXPECTED}; got a sequence of sessions of text.")


def _softmax(logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    proba = np.exp(logits)
    return proba / proba.sum(axis=1, keepdims=True)


def _f1_threshold(scores, positive):
    """The threshold on ``scores`` that maximises F1 of ``positive`` (bool): the midpoint
    between the lowest score called positive and the next lower score (the highest such
    threshold when several give the same F1)."""
    order = np.argsort(-scores, kind="stable")
    s, hit = scores[order], positive[order].astype(np.int64)
    tp, called = np.cumsum(hit), np.arange(1, len(s) + 1)
    f1 = 2 * tp / (called + hit.sum())
    f1[:-1][s[1:] == s[:-1]] = -1.0  # a cut must fall between distinct scores
    i = int(np.argmax(f1))
    return float((s[i] + s[i + 1]) / 2) if i + 1 < len(s) else float(s[i] - 1.0)


def _byte_lengths(X):
    """Per row, one past the last valid byte (ByteWindower pads only after the frame)."""
    valid = X >= 0
    width = X.shape[1]
    last = width - np.argmax(valid[:, ::-1], axis=1)
    return np.where(valid.any(axis=1), last, 0).astype(np.int64)


class CLAD(SessionModelMixin, ClassifierMixin, BaseEstimator):
    """CLAD: a log anomaly classifier on the compressed bytes of each session.

    Reads the output of :class:`~sklog.preprocessing.ByteWindower` (one row
    of compressed bytes per session, ``-1`` padding), so a pipeline from raw
    lines is ``make_pipeline(ByteWindower(), CLAD())`` and frames read from an
    archive (``ByteWindower(input="compressed")``) are scored without being
    decompressed.

    **Architecture.** Each byte is embedded (256 byte values, plus padding,
    mask and CLS tokens); ``n_conv_stages`` stages of dilated residual
    ``Conv1d`` blocks (dilations 1 and 2, kernel 3), each followed by a
    stride-2 convolution, shorten the sequence ``2**n_conv_stages`` times
    (16x) while one output position sees 106 bytes. Sinusoidal positions are
    added, a CLS token is prepended, and ``n_blocks`` hybrid blocks each run
    one mLSTM layer (matrix-memory LSTM of xLSTM, in plain torch, stabilised
    parallel form: :mod:`sklog.nn._mlstm`) and one Transformer self-attention
    layer. The CLS state, learned attention pooling, and max and mean over
    the valid positions are concatenated (``4 * d_model``) and read by a head
    (LayerNorm, dropout, ``d_model`` GELU units, dropout, one logit per class).

    **Training.** Stage 1 (``pretrain_epochs``): masked byte modelling on all
    training windows, no labels: ``mask_ratio`` of the valid bytes of every
    batch are replaced by the mask token and predicted from the encoder state
    of their 16-byte patch, the first conv stage's local features and their
    offset in the patch. Stage 2 (``max_epochs``): the pre-trained network is
    fine-tuned with cross-entropy (default), or with the paper's focal loss
    (per-class ``alpha`` from the class frequencies, ``class_weight``) plus
    ``contrastive_weight`` times the supervised contrastive loss
    (``temperature``) of the L2-normalised pooled vectors
    (``loss="focal_contrastive"``); no resampling. Early stopping on the
    validation loss of a stratified ``validation_fraction`` of the training
    data (the best epoch's weights are kept); the decision threshold is the
    log-odds that maximises F1 on that same part (``threshold="auto"``).
    AdamW, gradient norm clipped at 1. On CUDA the forward
    passes run under bfloat16 autocast (the mLSTM's exponential gates and the
    losses stay in float32); on CPU everything is float32.

    **What comes from the shared base.** :class:`~sklog.nn.SessionModelMixin`
    serves sessions of templates; its template vocabulary does not apply to
    bytes (the vocabulary is the 256 byte values). CLAD reuses its skorch net
    construction (``_make_net``: device, verbosity, progress bar), seeded and
    thread-limited training (``_seeded``, ``_threads``), and chunked,
    length-sorted inference through skorch (``_forward`` with
    :class:`~sklog.nn.SessionDataset` and :class:`~sklog.nn.SessionNet`'s
    length buckets, the byte rows standing for the template ids and the frame
    lengths for the session lengths, so a batch is trimmed to its longest
    frame). Validation of ``X`` is scikit-learn's (``validate_data``).

    Parameters
    ----------
    d_model : int, default=64
        Width of the embedding, the convolutions and the encoder.
    n_heads : int, default=4
        Attention and mLSTM heads; must divide ``d_model``.
    n_blocks : int, default=2
        Hybrid blocks (one mLSTM and one self-attention layer each).
    n_conv_stages : int, default=4
        Stride-2 stages of the conv stack: the sequence is ``2**n_conv_stages``
        times shorter.
    encoder : {"hybrid", "transformer"}, default="hybrid"
        ``"transformer"`` (ablation): every mLSTM layer is replaced by a
        self-attention layer (same depth).
    dropout : float, default=0.1
    mask_ratio : float in (0, 1), default=0.15
        Share of the valid bytes masked in stage 1.
    pretrain_epochs : int, default=2
        Epochs of masked byte modelling; ``0`` (ablation): no pre-training.
    loss : {"cross_entropy", "focal_contrastive"}, default="cross_entropy"
        ``"cross_entropy"``: plain unweighted cross-entropy, no contrastive
        term (the default: it learned HDFS best, see Notes).
        ``"focal_contrastive"``: the paper's focal loss (``focal_gamma``,
        ``class_weight``) plus ``contrastive_weight`` times the supervised
        contrastive loss.
    focal_gamma : float, default=1.0
    class_weight : "balanced", "balanced_sqrt", dict or None, default="balanced_sqrt"
        Focal ``alpha``: ``n / (n_classes * n_c)`` per class ``c`` of the
        training part (``"balanced"``), its square root (``"balanced_sqrt"``:
        4.1 instead of 16.7 for 3% anomalies), ``{label: weight}`` (missing
        labels: 1), or none. Ignored with ``loss="cross_entropy"``.
    contrastive_weight : float, default=0.05
        Weight of the supervised contrastive loss (``0``: focal loss only).
    temperature : float, default=0.1
        Temperature of the supervised contrastive loss.
    lr : float, default=3e-4
        AdamW learning rate (both stages); the peak rate with a schedule.
    lr_schedule : {"constant", "warmup_cosine"}, default="constant"
        ``"warmup_cosine"``: in each stage, a linear warm-up over the first
        10% of its optimiser steps (``max_epochs`` or ``pretrain_epochs``
        epochs), then a cosine decay to 1% of ``lr``
        (:class:`sklog.nn._schedules.WarmupCosine`).
    weight_decay : float, default=0.01
    batch_size : int, default=64
    max_epochs : int, default=20
        Fine-tuning epochs at most.
    patience : int, default=3
        Epochs without a better validation loss before early stopping.
    validation_fraction : float in [0, 0.5), default=0.1
        Stratified share of the training data held out for early stopping
        (``0``, or too few sessions of a class: ``max_epochs`` epochs on the
        training loss).
    threshold : "auto" or float, default="auto"
        Log-odds of the anomaly (second) class above which a session is
        called an anomaly. ``"auto"``: the threshold that maximises F1 on the
        held-out ``validation_fraction`` of the training data (the midpoint
        between two adjacent scores there); ``0`` (argmax) without a held-out
        part, when it holds one class only, or with three or more classes.
        ``decision_function`` and ``predict_proba`` are shifted by it, so
        ``predict`` is their argmax, as scikit-learn expects.
    device : str, default="auto"
        ``"auto"``: CUDA when available.
    n_jobs : int or None, default=None
        torch threads on CPU (``None``: 1).
    verbose : int, default=0
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    classes_ : ndarray
    n_features_in_ : int
        Width of the byte rows (``ByteWindower``'s ``max_bytes``); predict
        needs the same.
    net_ : skorch.NeuralNet
        The fine-tuned network (``net_.module_`` is a :class:`CLADModule`).
    pretrain_losses_ : list of float
        Masked byte modelling loss of each pre-training epoch.
    class_weights_ : ndarray or None
        The focal ``alpha``.
    threshold_ : float
        The log-odds threshold in use (see ``threshold``).
    n_epochs_ : int
        Fine-tuning epochs run.
    fit_time_ : float
        Seconds.
    device_ : str

    See Also
    --------
    sklog.preprocessing.ByteWindower : sessions of lines -> compressed bytes.

    Notes
    -----
    Only the abstract and a partial digest of the paper are public. Choices
    made here: stride-2 convolutions after each stage for the 16x shortening;
    the xLSTM block layout (pre-norm, up-projection x2, causal depthwise
    conv, exponential input and sigmoid forget gates, head-wise layer norm)
    for the mLSTM layers, which run left to right (the attention layers see
    both directions); focal ``alpha`` from inverse class frequencies;
    masked-byte targets predicted from the patch state plus local features.

    **Choosing the fine-tuning loss (validation, not test).** All choices
    below were made on the training part of ``hdfs_raw``/``natural`` (seed 0:
    7,400 blocks, 221 anomalies) re-split stratified 75/25
    (:func:`sklog.benchmarks._data.validation_split`: fitted on 5,550 blocks
    with 166 anomalies, scored on 1,850 with 55); zstd with a dictionary
    trained on the 5,550, ``max_bytes=1024``; no pre-training, 6 epochs, CPU,
    one thread. The first defaults (focal ``gamma=2`` with the balanced
    ``alpha``, contrastive weight 0.1, lr 1e-3) predicted no anomaly on the
    test part (F1 0, PR-AUC 0.08). At lr 1e-3 plain cross-entropy stays near
    the class prior (training loss 0.168 -> 0.135, the prior's entropy is
    0.135): F1 0 at argmax, PR-AUC 0.24; at lr 3e-3 (batch 32) it is worse
    (PR-AUC 0.16). At **lr 3e-4** it learns: cross-entropy F1 0.87 at argmax
    (P 0.89, R 0.85), 0.885 with the threshold chosen on its own held-out
    tenth (``threshold="auto"``), PR-AUC 0.92, ROC-AUC 0.997, the validation
    loss still falling at epoch 6 (0.154 -> 0.034); the paper's loss at the
    same lr with tempered settings (focal ``gamma=1``, ``alpha`` the square
    root of the balanced weights, contrastive weight 0.05) F1 0.64 at argmax,
    0.67 thresholded, PR-AUC 0.69. Earlier subset diagnostics (1,721 blocks)
    agreed: the balanced ``alpha`` hurts most (16.7 on 3% anomalies makes
    the loss unstable), then ``gamma=2``, then the contrastive term. Hence
    the defaults: ``loss="cross_entropy"``, ``lr=3e-4``, ``threshold="auto"``;
    ``loss="focal_contrastive"`` keeps the paper's method with the best of
    its settings tried (``focal_gamma=1``, ``class_weight="balanced_sqrt"``,
    ``contrastive_weight=0.05``). A bag of byte 1-3-grams with logistic
    regression on the same zstd frames reaches PR-AUC 0.96 on that
    validation part, so the frames hold the signal; the network's limit on
    CPU is optimisation time, not information. Not tried for lack of CPU
    time: more epochs, pre-training at lr 3e-4 (the diagnostics had none),
    other codecs (a byte 1-gram probe prefers zstd at level -1, whose
    literals stay uncompressed: PR-AUC 0.90 against 0.73).

    **A learning-rate schedule does not help (validation, not test).**
    ``python -m sklog.benchmarks --validation`` (the training part of
    ``hdfs_raw``/``natural`` re-split 75/25) with the rows' budget (1
    pre-training and at most 8 fine-tuning epochs), seed 2, whose test row
    trained worst: constant lr 3e-4 F1 0.65, PR-AUC 0.69; warm-up and cosine
    decay (``lr_schedule="warmup_cosine"``) at peak 3e-4 F1 0.63, PR-AUC
    0.64; at peak 1e-3 F1 0.15, PR-AUC 0.16. The default stays constant.

    **Measured on the test part, below the target.** ``python -m sklog.benchmarks``
    rows of :mod:`sklog.benchmarks.cells.clad` on the HDFS raw sample
    (``hdfs_raw``/``natural``: stratified 80/20 split of blocks, 7,400
    training blocks with 221 anomalies, 1,851 test blocks with 55; zstd with
    a trained dictionary, ``max_bytes=1024``; seed 0; CPU, one thread, the
    machine shared with other jobs). With a budget of 1 pre-training epoch
    and at most 10 fine-tuning epochs, patience 2: the default row
    (cross-entropy, lr 3e-4, ``threshold="auto"``) precision 0.30, recall
    0.42, F1 0.35, PR-AUC 0.34, ROC-AUC 0.83, fit 388 s; without
    pre-training precision 0.26, recall 0.27, F1 0.27, PR-AUC 0.22, fit 239 s,
    about 4 epochs (patience 2 stopped it early: the validation diagnostics
    above ran 6 epochs with the held-out loss still falling, so the rows now
    keep the best of at most 8 epochs; a change made after seeing that test
    row, to match the validated setting, not tuned on the test part). With
    that budget, without pre-training (the setting the diagnostics
    validated): precision 0.80,
    recall 0.95, F1 0.87, PR-AUC 0.90, ROC-AUC 0.997, fit 516 s, 170
    sessions/s scored; the default row (1 pre-training epoch, then the same):
    precision 0.85, recall 0.93, F1 0.89, PR-AUC 0.92, ROC-AUC 0.995, fit
    626 s, 143 sessions/s scored. Seeds 1 and 2 and the other ablation rows
    were not run. The issue's target (F1 >= 0.99 on seeds 0-2) is not
    reached on CPU budgets.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklog.clad import CLAD
    >>> from sklog.preprocessing import ByteWindower
    >>> X = [[f"read block {i}", "close"] for i in range(20)]
    >>> X += [[f"read block {i}", "ERROR disk failed"] for i in range(20)]
    >>> y = [0] * 20 + [1] * 20
    >>> pipe = make_pipeline(ByteWindower(codec=None, max_bytes=64),
    ...                      CLAD(d_model=16, n_heads=2, n_blocks=1, pretrain_epochs=1,
    ...                           max_epochs=15, lr=3e-3, random_state=0))
    >>> pipe.fit(X, y).predict([["read block 7", "ERROR disk failed"]]).tolist()
    [1]
    """

    _parameter_constraints: dict = {
        "d_model": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_heads": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_blocks": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_conv_stages": [Interval(numbers.Integral, 0, 8, closed="both")],
        "encoder": [StrOptions({"hybrid", "transformer"})],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "mask_ratio": [Interval(numbers.Real, 0, 1, closed="neither")],
        "pretrain_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "loss": [StrOptions({"focal_contrastive", "cross_entropy"})],
        "focal_gamma": [Interval(numbers.Real, 0, None, closed="left")],
        "class_weight": [StrOptions({"balanced", "balanced_sqrt"}), dict, None],
        "contrastive_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"constant", "warmup_cosine"})],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 0.5, closed="left")],
        "threshold": [StrOptions({"auto"}), Interval(numbers.Real, None, None, closed="neither")],
        "device": [str, None],
        "n_jobs": [numbers.Integral, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        d_model=64,
        n_heads=4,
        n_blocks=2,
        n_conv_stages=4,
        encoder="hybrid",
        dropout=0.1,
        mask_ratio=0.15,
        pretrain_epochs=2,
        loss="cross_entropy",
        focal_gamma=1.0,
        class_weight="balanced_sqrt",
        contrastive_weight=0.05,
        temperature=0.1,
        lr=3e-4,
        lr_schedule="constant",
        weight_decay=0.01,
        batch_size=64,
        max_epochs=20,
        patience=3,
        validation_fraction=0.1,
        threshold="auto",
        device="auto",
        n_jobs=None,
        verbose=0,
        random_state=None,
    ):
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_blocks = n_blocks
        self.n_conv_stages = n_conv_stages
        self.encoder = encoder
        self.dropout = dropout
        self.mask_ratio = mask_ratio
        self.pretrain_epochs = pretrain_epochs
        self.loss = loss
        self.focal_gamma = focal_gamma
        self.class_weight = class_weight
        self.contrastive_weight = contrastive_weight
        self.temperature = temperature
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.threshold = threshold
        self.device = device
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    # --------------------------------------------------------------- input
    def _check_bytes(self, X, reset, y=None):
        """``X`` as an int16 array of bytes and ``-1`` padding (and ``y`` checked against
        it when given), or a clear error."""
        _reject_text(X)
        if y is None:
            X = validate_data(self, X, reset=reset, dtype="numeric")
        else:
            X, y = validate_data(self, X, y, reset=reset, dtype="numeric")
        if X.size and X.min() < -1:
            raise ValueError(f"{_EXPECTED}; Negative values in data below the padding value "
                             f"-1 (minimum {X.min()}).")
        if X.size and (X.max() > 255 or (X.dtype.kind == "f" and np.any(X != np.round(X)))):
            raise ValueError(f"{_EXPECTED}; got values from {X.min()} to {X.max()} that are "
                             "not all integers in -1..255.")
        X = X.astype(np.int16, copy=False)
        return X if y is None else (X, y)

    def _check_labels(self, y):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"CLAD needs at least two classes; got 1 class "
                             f"({self.classes_[0]!r}).")
        return labels

    def _held_out_split(self, labels, seed):
        n, counts = len(labels), np.bincount(labels)
        n_valid = int(round(self.validation_fraction * n))
        if (self.validation_fraction > 0 and counts.min() >= 2 and n_valid >= len(counts)
                and n - n_valid >= len(counts)):
            return train_test_split(np.arange(n), test_size=self.validation_fraction,
                                    stratify=labels, random_state=seed)
        return np.arange(n), np.arange(0)

    def _module_kwargs(self):
        return {"module__n_classes": len(self.classes_), "module__d_model": self.d_model,
                "module__n_heads": self.n_heads, "module__n_blocks": self.n_blocks,
                "module__n_conv_stages": self.n_conv_stages, "module__dropout": self.dropout,
                "module__encoder": self.encoder}

    # ----------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Pre-train on the bytes of ``X`` (no labels), then fine-tune on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_sessions, n_bytes)
            :class:`~sklog.preprocessing.ByteWindower` output: bytes 0-255,
            ``-1`` padding.
        y : array-like of shape (n_sessions,)
            Two or more labels; by the data contract ``1`` is the anomaly.

        Returns
        -------
        self
        """
        from skorch.callbacks import EarlyStopping, GradientNormClipping
        from skorch.helper import predefined_split

        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads={self.n_heads} must divide d_model={self.d_model}.")
        start = time.perf_counter()
        _reject_text(X)
        if y is None:
            raise ValueError("CLAD requires y to be passed, but the target y is None (one label "
                             "per session).")
        X, y = self._check_bytes(X, reset=True, y=y)
        labels = self._check_labels(y)
        seed = seed_from_random_state(self.random_state)
        self.device_ = resolve_device(self.device)
        mixed = self.device_.startswith("cuda")
        lengths = _byte_lengths(X)
        train_idx, valid_idx = self._held_out_split(labels, seed)
        common = dict(optimizer=torch.optim.AdamW, optimizer__weight_decay=self.weight_decay,
                      lr=self.lr, batch_size=self.batch_size, bucket_seed=seed,
                      mixed_precision=mixed, criterion=nn.CrossEntropyLoss)  # see get_loss

        module, self.pretrain_losses_ = None, []
        if self.pretrain_epochs:
            pretrain = self._make_net(
                _MaskedByteNet, module=CLADModule, **self._module_kwargs(),
                mask_ratio=self.mask_ratio, max_epochs=self.pretrain_epochs, train_split=None,
                callbacks=[("gradient_clipping", GradientNormClipping(gradient_clip_value=1.0)),
                           *self._schedule(len(X), self.pretrain_epochs)],
                **common)
            with self._seeded(seed):
                pretrain.fit(SessionDataset(X, lengths), None)
            module = pretrain.module_
            self.pretrain_losses_ = [float(v) for v in pretrain.history[:, "train_loss"]]

        counts = np.bincount(labels[train_idx], minlength=len(self.classes_))
        self.class_weights_ = None
        if self.class_weight in ("balanced", "balanced_sqrt"):
            self.class_weights_ = len(train_idx) / (len(counts) * np.maximum(counts, 1))
            if self.class_weight == "balanced_sqrt":
                self.class_weights_ = np.sqrt(self.class_weights_)
        elif isinstance(self.class_weight, dict):
            self.class_weights_ = np.array([float(self.class_weight.get(c, 1.0))
                                            for c in self.classes_.tolist()])
        callbacks = [("gradient_clipping", GradientNormClipping(gradient_clip_value=1.0)),
                     ("early_stopping", EarlyStopping(
                         monitor="valid_loss" if len(valid_idx) else "train_loss",
                         patience=self.patience, load_best=True, sink=silent)),
                     *self._schedule(len(train_idx), self.max_epochs)]
        self.net_ = self._make_net(
            _CLADNet, module=CLADModule if module is None else module,
            **(self._module_kwargs() if module is None else {}),
            loss=self.loss, focal_gamma=self.focal_gamma,
            alpha=None if self.class_weights_ is None else self.class_weights_.tolist(),
            contrastive_weight=self.contrastive_weight, temperature=self.temperature,
            max_epochs=self.max_epochs, callbacks=callbacks,
            train_split=predefined_split(SessionDataset(
                X[valid_idx], lengths[valid_idx], y=labels[valid_idx]))
            if len(valid_idx) else None,
            **common)
        with self._seeded(seed + 1):
            self.net_.fit(SessionDataset(X[train_idx], lengths[train_idx],
                                         y=labels[train_idx]), None)
        self.net_.train_split = None  # no reference to the training data in the pickle
        self.threshold_ = self._fit_threshold(X[valid_idx], labels[valid_idx])
        self.n_epochs_ = len(self.net_.history)
        self.fit_time_ = time.perf_counter() - start
        return self

    def _schedule(self, n_samples, epochs):
        """The learning-rate callback of one stage (none for a constant rate)."""
        if self.lr_schedule == "constant":
            return []
        return [("lr_scheduler", warmup_cosine_callback(n_samples, self.batch_size, epochs))]

    # ----------------------------------------------------------- inference
    def _bytes_per_event(self):
        # per input byte: embedding and the first stage's blocks at full resolution (about
        # 4 activations of d_model each), the later stages and the encoder a fraction of it
        return 4 * 8 * self.d_model

    def _chunk_size(self, width):
        budget = min(sklearn.get_config()["working_memory"] * 2**20, BATCH_ACTIVATION_BYTES)
        return max(1, int(budget // (max(width, 1) * self._bytes_per_event())))

    def _raw_logits(self, X):
        return self._forward((X, _byte_lengths(X), None),
                             lambda out: to_numpy(out["logits"].float())).astype(np.float64)

    def _fit_threshold(self, X_valid, labels_valid):
        """``threshold_``: the given log-odds, or with ``"auto"`` the one that maximises the
        anomaly F1 on the held-out part (0, i.e. argmax, without one or for 3+ classes)."""
        if self.threshold != "auto":
            return float(self.threshold)
        if len(self.classes_) != 2 or len(np.unique(labels_valid)) < 2:
            return 0.0
        logits = self._raw_logits(X_valid)
        return _f1_threshold(logits[:, 1] - logits[:, 0], labels_valid == 1)

    def _logits(self, X):
        """Logits with ``threshold_`` subtracted from the second class's (binary), so that
        ``predict``, ``predict_proba`` and ``decision_function`` agree."""
        check_is_fitted(self, "net_")
        X = self._check_bytes(X, reset=False)
        logits = self._raw_logits(X)
        if logits.shape[1] == 2:
            logits[:, 1] -= self.threshold_
        return logits

    def decision_function(self, X):
        """Log-odds of ``classes_[1]`` (binary), else one logit per class.

        Parameters
        ----------
        X : array-like of shape (n_sessions, n_bytes)

        Returns
        -------
        ndarray of shape (n_sessions,) or (n_sessions, n_classes)
        """
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_sessions, n_bytes)

        Returns
        -------
        ndarray of shape (n_sessions, n_classes)
        """
        return _softmax(self._logits(X))

    def predict(self, X):
        """Labels (those given in ``y``) of the sessions.

        Parameters
        ----------
        X : array-like of shape (n_sessions, n_bytes)

        Returns
        -------
        ndarray of shape (n_sessions,)
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def predict_and_proba(self, X):
        """``(predict(X), predict_proba(X))`` from one pass of the network.

        Parameters
        ----------
        X : array-like of shape (n_sessions, n_bytes)

        Returns
        -------
        labels : ndarray of shape (n_sessions,)
        proba : ndarray of shape (n_sessions, n_classes)
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)], _softmax(logits)

    def explain(self, X):
        """Per-byte contributions to the anomaly score (gradient x input).

        The score is the log-odds of the anomaly class (label ``1``, else the
        last class) against the others; a byte's value is the gradient of
        that score with respect to the byte's embedding, dotted with the
        embedding. Positive values push towards the anomaly; padding gets 0.
        Summing over spans of 16 bytes gives the share of each patch the
        encoder reads. The bytes are compressed, so a span maps to raw lines
        only through decompression of the frame: the frame's index in an
        archive (:func:`~sklog.preprocessing.read_frame_lines`) gives the
        session's lines to show beside it.

        Parameters
        ----------
        X : array-like of shape (n_sessions, n_bytes)

        Returns
        -------
        contributions : ndarray of shape (n_sessions, n_bytes), float64
        """
        check_is_fitted(self, "net_")
        X = self._check_bytes(X, reset=False)
        lengths = _byte_lengths(X)
        classes = list(self.classes_)
        pos = classes.index(1) if 1 in classes else len(classes) - 1
        module = self.net_.module_
        module.eval()
        out = np.zeros(X.shape, dtype=np.float64)
        order = np.argsort(lengths, kind="stable")
        step = self._chunk_size(X.shape[1])
        with self._threads():
            for start in range(0, len(X), step):
                rows = order[start:start + step]
                width = max(int(lengths[rows].max(initial=0)), 1)
                ids = torch.as_tensor(X[rows, :width]).to(self.net_.device)
                with torch.enable_grad():
                    inputs = module.embed(ids).detach().requires_grad_(True)
                    logits = module(ids, inputs=inputs)["logits"].float()
                    log_p = torch.log_softmax(logits, dim=-1)
                    other = torch.logsumexp(
                        torch.cat([log_p[:, :pos], log_p[:, pos + 1:]], dim=1), dim=1)
                    (log_p[:, pos] - other).sum().backward()
                values = (inputs.grad * inputs).sum(-1) * (ids >= 0)
                out[rows, :width] = to_numpy(values.float())
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = False
        tags.input_tags.categorical = True  # bytes are categories, not magnitudes
        tags.input_tags.positive_only = True  # -1 is padding, nothing below it
        return tags


def make_clad_pipeline(*, max_bytes=1024, codec="zstd", random_state=None, **params):
    """``ByteWindower(codec, max_bytes)`` followed by ``CLAD(**params)``: raw lines in.

    The factory of ``sklog fit --method clad`` and of the CLAD benchmark rows
    (:mod:`sklog.methods`); CLAD reads the compressed bytes of each session,
    so no ``DrainTemplater`` comes first.

    Parameters
    ----------
    max_bytes : int, default=1024
        Bytes per session (99% of HDFS blocks compress to under 500 with zstd
        and a trained dictionary).
    codec : {"zstd", "gzip", "lz4"} or None, default="zstd"
    random_state : int, RandomState instance or None, default=None
        CLAD's.
    **params
        :class:`CLAD` parameters.

    Returns
    -------
    pipeline : Pipeline
        Steps ``"bytewindower"`` and ``"clad"``.

    Examples
    --------
    >>> from sklog.clad import make_clad_pipeline
    >>> pipe = make_clad_pipeline(max_epochs=5, random_state=0)
    >>> [name for name, _ in pipe.steps], pipe[-1].max_epochs
    (['bytewindower', 'clad'], 5)
    """
    from sklearn.pipeline import make_pipeline

    from .preprocessing import ByteWindower

    return make_pipeline(ByteWindower(codec=codec, max_bytes=max_bytes),
                         CLAD(random_state=random_state, **params))
