"""ALogSCAN: self-supervised log anomaly detection with frequency-filtered teacher-student CNNs.

Raeiszadeh et al., "ALogSCAN", IEEE Transactions on Cognitive
Communications and Networking, 2025. Two CNN networks read the same session:

* the **teacher** (autoencoder) sees the complete sequence, reconstructs it
  through a mirrored transposed-convolution decoder, and is pulled towards a
  fixed centre in latent space (one-class loss);
* the **student** (encoder only) sees only the *frequent view* of the
  sequence, where the batch's least frequent templates are blanked out
  (dynamic frequency-based log filtering, DFLF), and learns to predict the
  teacher's latent vector.

The teacher's reconstruction loss is computed on the infrequent positions
only (infrequent reconstruction with complete input, IRCI). On normal
sessions the frequent view says almost everything about the session, so the
student predicts the teacher well; a session whose rare or unseen lines
change its meaning yields a large teacher-student gap, which is the anomaly
score. No label is used anywhere.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.callbacks import Callback
from torch import nn
from torch.nn import functional as F

from .base import AnomalyDetectorMixin
from .nn import (
    MirroredDeconvDecoder,
    MultiKernelCNNEncoder,
    SessionDetectorMixin,
    SessionNet,
    TemplateEmbedding,
)
from .utils import OOV_ID, PAD_ID, torch_generator

__all__ = ["ALogSCAN", "ALogSCANModule"]

#: Rows per validation batch. ``valid_loss`` averages the reconstruction loss per batch,
#: so this size is part of the early-stopping criterion: fixed, not memory-dependent.
VALID_BATCH_SIZE = 1024


def least_frequent(counts, kappa):
    """DFLF's rarity rule: the ids among the ``kappa`` share of least frequent present ids.

    ``counts`` holds one count per id (0: absent). The
    ``max(1, floor(kappa * n_present))`` rarest present ids are marked, ties
    included (as in the authors' code); the most frequent id never is, so a
    view with more than one template is never empty. Applied to a batch's
    event counts during training, and to the training counts for inference.
    """
    present = counts > 0
    n_present = int(present.sum())
    if n_present < 2:
        return torch.zeros_like(present)
    k = max(1, int(kappa * n_present))
    threshold = torch.sort(counts[present]).values[k - 1]
    return present & (counts <= threshold) & (counts < counts.max())


def dflf_mask(ids, kappa, n_ids):
    """DFLF on one training batch: its least frequent templates by event count, never padding."""
    valid = ids != PAD_ID
    return least_frequent(torch.bincount(ids[valid], minlength=n_ids), kappa)[ids] & valid


class ALogSCANModule(nn.Module):
    """Shared template embedding, teacher (CNN autoencoder) and student (CNN encoder).

    ``forward`` returns a dict: the teacher's latent ``z``, the student's
    prediction ``z_student``, the (trimmed) ``ids``, the ``valid`` and
    ``infrequent`` masks, the feature maps and the positions the latents were
    pooled from. :meth:`reconstruct` decodes the teacher's maps into
    vocabulary logits per position (training only: scoring never needs it).

    Parameters
    ----------
    n_ids, embedding_dim, channels, kernel_sizes, pooling
        Sizes of the networks (see :class:`ALogSCAN`).
    rare : array-like of bool of shape (n_ids,), optional
        Ids blanked out of the student's view at inference.
    embedding_weights : array-like of shape (n_ids, embedding_dim), optional
        Initial learned template embeddings (learned either way).
    embedding : dict, optional
        ``mode`` and ``table`` of the :class:`~sklog.nn.TemplateEmbedding`
        (default: learned ids only).
    """

    def __init__(self, n_ids, embedding_dim, channels, kernel_sizes, pooling="max", rare=None,
                 embedding_weights=None, embedding=None):
        super().__init__()
        self.n_ids = int(n_ids)
        self.embedding = TemplateEmbedding(n_ids, embedding_dim, **(embedding or {}))
        self.teacher = MultiKernelCNNEncoder(embedding_dim, channels, kernel_sizes, pooling)
        self.decoder = MirroredDeconvDecoder(embedding_dim, channels, kernel_sizes)
        self.head = nn.Linear(embedding_dim, n_ids)
        self.student = MultiKernelCNNEncoder(embedding_dim, channels, kernel_sizes, pooling)
        if embedding_weights is not None and self.embedding.weight is not None:
            with torch.no_grad():
                self.embedding.weight.copy_(torch.as_tensor(embedding_weights))
        # centre of the one-class loss, fixed from an initial pass (OneClassCentre)
        self.register_buffer("center", torch.zeros(self.teacher.latent_dim))
        rare = torch.zeros(n_ids, dtype=torch.bool) if rare is None else torch.as_tensor(rare)
        self.register_buffer("rare", rare.to(torch.bool))

    def forward(self, ids, lengths=None, infrequent=None, vectors=None):
        # batches may be padded wider than their longest session: trim
        length = max(int((ids != PAD_ID).sum(dim=1).max()), 1) if len(ids) else 1
        ids = ids[:, :length]
        valid = ids != PAD_ID
        emb = self.embedding(ids, None if vectors is None else vectors[:, :length])
        ids = ids.masked_fill(ids >= self.n_ids, OOV_ID)  # unseen templates (text vectors)
        if infrequent is None:
            infrequent = self.rare[ids] & valid
        else:
            infrequent = infrequent[:, :length] & valid
        z, maps, where_t = self.teacher(emb, valid)
        z_student, maps_s, where_s = self.student(
            emb.masked_fill(infrequent.unsqueeze(-1), 0.0), valid
        )
        return {
            "z": z,
            "z_student": z_student,
            "ids": ids,
            "valid": valid,
            "infrequent": infrequent,
            "where_teacher": where_t,
            "where_student": where_s,
            "maps_teacher": maps,
            "maps_student": maps_s,
        }

    def reconstruct(self, maps_teacher):
        """Vocabulary logits per position from the teacher's feature maps."""
        return self.head(self.decoder(maps_teacher))


def _spread_over_windows(per_window, k, lengths):
    """Share each window's value (window ``t`` covers lines ``t .. t+k-1``) among its lines."""
    n, length = per_window.shape
    positions = torch.arange(length, device=per_window.device)
    n_lines = (torch.minimum(positions + k, lengths[:, None]) - positions).clamp(min=1)
    share = per_window / n_lines
    out = torch.zeros_like(per_window)
    for offset in range(min(k, length)):
        out[:, offset:] += share[:, : length - offset]
    return out.masked_fill(positions[None, :] >= lengths[:, None], 0.0)


class OneClassCentre(Callback):
    """Fix the one-class centre from the teacher's latents of the training sessions.

    As in Deep SVDD, coordinates near zero are pushed to ``+-eps`` so the
    teacher cannot reach the centre by collapsing to zero.
    """

    def __init__(self, eps=0.1):
        self.eps = eps

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        z = torch.cat([out["z"] for out in net.forward_iter(X)])
        center = z.mean(dim=0)
        small = center.abs() < self.eps
        center[small & (center < 0)] = -self.eps
        center[small & (center >= 0)] = self.eps
        net.module_.center.copy_(center)


@dataclass(frozen=True)
class Objective:
    """The terms of ALogSCAN's training loss (see :class:`ALogSCAN` for each)."""

    alpha: float = 50.0  # weight of the reconstruction loss L_R
    reconstruct: str = "infrequent"  # IRCI: "infrequent" positions only, or "all"
    center_loss: bool = True  # the one-class loss L_C


class _ALogSCANNet(SessionNet):
    """skorch net: DFLF on each training batch in ``infer``, composite loss in ``get_loss``.

    Parameters
    ----------
    kappas : tuple of float or None
        DFLF: one is drawn per training batch (seeded by ``kappa_seed``);
        ``None``: the student sees every training session complete.
    objective : Objective
    """

    def __init__(self, module, *args, kappas=None, kappa_seed=0, objective=Objective(),
                 **kwargs):
        super().__init__(module, *args, **kwargs)
        self.kappas, self.kappa_seed, self.objective = kappas, kappa_seed, objective

    def initialize(self):
        super().initialize()
        self.kappa_rng_ = np.random.RandomState(self.kappa_seed)
        return self

    def infer(self, x, **fit_params):
        ids = x["ids"].to(self.device)
        infrequent = None  # the inference view: training frequencies (module.rare)
        if self.module_.training and self.kappas is not None:
            kappa = float(self.kappa_rng_.choice(self.kappas))
            infrequent = dflf_mask(ids, kappa, self.module_.n_ids)
        vectors = x.get("vectors")
        return self.module_(ids, infrequent=infrequent,
                            vectors=None if vectors is None else vectors.to(self.device))

    def get_loss(self, y_pred, y_true=None, X=None, training=False):
        z, z_student, objective = y_pred["z"], y_pred["z_student"], self.objective
        # L_P: the student predicts the (detached) teacher latent
        loss = ((z.detach() - z_student) ** 2).mean(dim=1).mean()
        if objective.center_loss:  # L_C: one-class loss around the fixed centre
            loss = loss + ((z - self.module_.center) ** 2).mean(dim=1).mean()
        if objective.alpha > 0:  # L_R: reconstruct the infrequent positions (IRCI)
            targets = y_pred["infrequent" if objective.reconstruct == "infrequent" else "valid"]
            if bool(targets.any()):
                logits = self.module_.reconstruct(y_pred["maps_teacher"])
                loss_r = F.cross_entropy(logits[targets], y_pred["ids"][targets])
                loss = loss + objective.alpha * loss_r
        return loss


class ALogSCAN(SessionDetectorMixin, AnomalyDetectorMixin, BaseEstimator):
    """ALogSCAN: unsupervised teacher-student CNN detector on sessions of templates.

    ``fit`` learns normal behaviour from unlabeled sessions (they should be
    mostly normal). The anomaly score is the squared distance between the
    latent vector of the teacher, which reads the complete session, and the
    student's prediction of it from the session's frequent view: rare or
    unseen lines that matter make the two disagree.

    Parameters
    ----------
    embedding_dim : int, default=32
        Width of the per-position template inputs.
    channels : int, default=128
        Channels of each CNN branch; the latent size is
        ``channels * len(kernel_sizes)``.
    kernel_sizes : tuple of int, default=(2, 3, 4)
        One convolution branch per kernel size.
    kappas : tuple of float, default=(0.05, 0.1, 0.15, 0.2)
        DFLF: for every training batch one ``kappa`` is drawn from this set
        and the least frequent ``kappa`` share of the batch's distinct
        templates is blanked out of the student's view. At inference, where a
        score must not depend on the other sessions of the batch, the view
        uses the training frequencies instead: the least frequent
        ``max(kappas)`` share of the training templates, plus every unseen
        template, is blanked out.
    alpha : float, default=50.0
        Weight of the reconstruction loss ``L_R``.
    frequency_filtering : bool, default=True
        DFLF on. ``False`` (ablation): the student sees the complete
        session and the teacher reconstructs every position. Which is better
        depends on the data, so validate it on your own (see Notes).
    infrequent_reconstruction : bool, default=True
        IRCI on: reconstruct only the infrequent positions. ``False``
        (ablation): reconstruct every position.
    center_loss : bool, default=True
        Include the one-class centre loss ``L_C``. ``False`` is an ablation.
    pooling : {"max", "mean"}, default="max"
        How the CNN feature maps are pooled over time into the latent
        vector. ``"max"`` follows the authors' code and is the better of the
        two on the HDFS validation split (PR-AUC 0.804 against 0.785).
        ``"mean"`` keeps how often a pattern occurs in the latent vector.
    embedding_init : {"random", "tfidf"}, default="random"
        ``"tfidf"`` initialises the learned embeddings from a truncated SVD
        of the tf-idf vectors of the template texts (they are learned either
        way).
    template_embedding : {"learned", "semantic", "both"}, default="learned"
        How a template enters the networks: a learned vector per training
        template (unseen ones share the out-of-vocabulary vector), its frozen
        Sentence-BERT vector projected to ``embedding_dim`` (unseen templates
        get their own vector from their text), or the sum of both. See
        :class:`sklog.nn.TemplateEmbedding`.
    embedder : BertEmbedder or None, default=None
        Embeds template texts when ``template_embedding`` is not
        ``"learned"``; ``None``: :class:`~sklog.feature_extraction.BertEmbedder`
        with the packaged all-MiniLM-L6-v2.
    max_length : int or "auto", default="auto"
        Sessions are truncated to their first ``max_length`` events.
        ``"auto"``: the longest training session, capped at 512. Batches
        are padded only to their own longest session.
    contamination : "auto" or float in (0, 0.5], default="auto"
        ``"auto"``: the threshold is the highest score of the held-out
        training sessions (never used in a gradient step), i.e. training
        data is taken as normal and no held-out normal session is flagged.
        A float: that share of the training sessions is flagged (the
        quantile of their scores), as in scikit-learn's detectors.
    validation_fraction : float in (0, 0.5), default=0.1
        Share of the training sessions held out for early stopping and the
        ``"auto"`` threshold. With fewer than 10 sessions nothing is held
        out, there is no early stopping and ``"auto"`` uses the training
        scores.
    lr : float, default=1e-3
        Initial AdamW learning rate, decayed linearly (polynomial decay of
        power 1) to zero over ``max_epochs``.
    weight_decay : float, default=1e-4
        AdamW weight decay.
    batch_size : int, default=64
    max_epochs : int, default=20
    patience : int, default=20
        Early stopping patience (epochs without a better validation loss);
        the best weights are restored.
    max_samples : int or None, default=10000
        Sessions drawn (without replacement, anew each epoch) per training
        epoch, which bounds the epoch cost on large logs. ``None``: all.
    device : str, default="auto"
        ``"auto"`` picks CUDA when available, else CPU.
    n_jobs : int or None, default=None
        Threads torch uses on CPU during ``fit`` and inference (``None``: 1,
        ``-1``: all cores, as in scikit-learn). These models are too small to
        gain from more, and on a busy machine more threads slow them down.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, the held-out split, batch order and the DFLF
        ``kappa`` draws: the same seed gives the same scores on CPU.
    verbose : int, default=0
        Print the training log and a progress bar when positive.

    Attributes
    ----------
    vocabulary_ : TemplateVocabulary
        Training templates; unseen ones map to the out-of-vocabulary id.
    max_length_ : int
    net_ : skorch.NeuralNet
        The trained networks (``net_.module_``) and training history.
    offset_ : float
        ``decision_function = score_samples - offset_``.
    threshold_ : float
        The anomaly score above which a session is flagged (``-offset_``).
    device_ : str
    n_epochs_ : int
    fit_time_ : float
        Seconds spent in ``fit``.

    See Also
    --------
    sklog.preprocessing.DrainTemplater : turn raw lines into templates first.

    Notes
    -----
    Choices where the paper is silent or where this port departs from it:

    * Reconstruction target: cross-entropy over the template vocabulary at
      the infrequent positions. The authors' code regresses the embedding
      vectors (MSE), which, with embeddings that are themselves learned,
      can be lowered by shrinking the embeddings; ids cannot collapse.
    * The inference view uses training frequencies (see ``kappas``), so a
      session's score does not depend on the rest of its batch; the
      authors' code re-applies the random per-batch filter at test time.
    * DFLF is not a free win. On BGL it is the only source of signal
      (anomalies are unseen templates, which the student never sees). On
      HDFS blocks, where anomalies are rare templates that also occur in a
      few normal blocks, it hides exactly those lines from the student and
      lowers the ranking quality: scored on a held-out quarter of the
      training part (``python -m sklog.benchmarks --validation``), PR-AUC
      0.804 with DFLF against 0.953 without. Compare both settings on
      validation data of your own logs.
    * Unseen templates share one out-of-vocabulary id, never trained. Data
      whose *normal* test sessions are mostly made of templates absent from
      training (BGL's temporal split: about half of its normal test windows
      hold one) cannot then be separated from anomalies by any model on ids.

    Examples
    --------
    >>> from sklog.alogscan import ALogSCAN
    >>> X = [["open", "read", "close"]] * 30 + [["open", "write", "close"]] * 30
    >>> det = ALogSCAN(channels=8, embedding_dim=8, max_epochs=2, random_state=0).fit(X)
    >>> det.predict([["open", "read", "close"]]).shape
    (1,)
    """

    _parameter_constraints: dict = {
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "channels": [Interval(numbers.Integral, 1, None, closed="left")],
        "kernel_sizes": ["array-like"],
        "kappas": ["array-like"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "frequency_filtering": ["boolean"],
        "infrequent_reconstruction": ["boolean"],
        "center_loss": ["boolean"],
        "pooling": [StrOptions({"max", "mean"})],
        "embedding_init": [StrOptions({"random", "tfidf"})],
        **SessionDetectorMixin._template_embedding_constraints,
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "max_samples": [Interval(numbers.Integral, 1, None, closed="left"), None],
        **SessionDetectorMixin._detector_constraints,
    }

    def __init__(
        self,
        *,
        embedding_dim=32,
        channels=128,
        kernel_sizes=(2, 3, 4),
        kappas=(0.05, 0.1, 0.15, 0.2),
        alpha=50.0,
        frequency_filtering=True,
        infrequent_reconstruction=True,
        center_loss=True,
        pooling="max",
        embedding_init="random",
        template_embedding="learned",
        embedder=None,
        max_length="auto",
        contamination="auto",
        validation_fraction=0.1,
        lr=1e-3,
        weight_decay=1e-4,
        batch_size=64,
        max_epochs=20,
        patience=20,
        max_samples=10000,
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.embedding_dim = embedding_dim
        self.channels = channels
        self.kernel_sizes = kernel_sizes
        self.kappas = kappas
        self.alpha = alpha
        self.frequency_filtering = frequency_filtering
        self.infrequent_reconstruction = infrequent_reconstruction
        self.center_loss = center_loss
        self.pooling = pooling
        self.embedding_init = embedding_init
        self.template_embedding = template_embedding
        self.embedder = embedder
        self.max_length = max_length
        self.contamination = contamination
        self.validation_fraction = validation_fraction
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.max_samples = max_samples
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _check_lists(self):
        kernel_sizes = [int(k) for k in np.ravel(self.kernel_sizes)]
        if not kernel_sizes or min(kernel_sizes) < 1:
            raise ValueError(
                f"kernel_sizes must be positive integers, got kernel_sizes={self.kernel_sizes!r}."
            )
        kappas = [float(k) for k in np.ravel(self.kappas)]
        if not kappas or not all(0 < k < 1 for k in kappas):
            raise ValueError(f"kappas must be floats in (0, 1), got kappas={self.kappas!r}.")
        return tuple(kernel_sizes), tuple(kappas)

    def _rare_templates(self, kappa):
        """Inference view: the least frequent ``kappa`` share of training templates, plus OOV
        (nothing when frequency filtering is off)."""
        counts = torch.zeros(self.vocabulary_.size, dtype=torch.int64)
        if not self.frequency_filtering:
            return counts.bool()
        counts[2:] = torch.as_tensor(self.vocabulary_.counts_)
        rare = least_frequent(counts, kappa)
        rare[OOV_ID] = True
        return rare

    def _tfidf_embeddings(self, dim, seed):
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = self.vocabulary_.templates_
        weights = np.zeros((self.vocabulary_.size, dim), dtype=np.float32)
        try:
            tfidf = TfidfVectorizer(token_pattern=r"[A-Za-z]{2,}").fit_transform(texts)
        except ValueError:  # no word at all in the templates
            return None
        n_comp = min(dim, tfidf.shape[1] - 1, len(texts) - 1)
        if n_comp < 1:
            return None
        vecs = TruncatedSVD(n_comp, random_state=seed).fit_transform(tfidf)
        vecs /= np.abs(vecs).max() or 1.0
        weights[2:, :n_comp] = vecs
        return weights

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn normal behaviour from unlabeled sessions of templates.

        Parameters
        ----------
        X : sequence of sessions (sequences of template strings)
        y : ignored
            Anomalies (label 1) in it trigger a warning: they would be learned as normal.

        Returns
        -------
        self
        """
        from skorch.callbacks import EarlyStopping, LRScheduler
        from skorch.dataset import Dataset
        from skorch.helper import predefined_split
        from torch.optim.lr_scheduler import PolynomialLR

        self._warn_on_anomalies_in_y(y)
        start = time.perf_counter()
        sessions, seed = self._start_fit(X)
        kernel_sizes, kappas = self._check_lists()
        self.max_length_ = self._auto_max_length(sessions)
        ids, lengths, _ = self._encode(sessions)
        train_idx, valid_idx = self._held_out_split(len(ids), seed)
        n_valid = len(valid_idx)

        callbacks = [("one_class_centre", OneClassCentre()), ("lr_scheduler", LRScheduler(
            policy=PolynomialLR, total_iters=self.max_epochs, power=1.0, step_every="epoch"))]
        if n_valid:
            callbacks.append(("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=self.patience, load_best=True)))
        embedding_weights = (self._tfidf_embeddings(self.embedding_dim, seed)
                             if self.embedding_init == "tfidf" else None)
        self.net_ = self._make_net(
            _ALogSCANNet, module=ALogSCANModule,
            module__n_ids=self.vocabulary_.size, module__embedding_dim=self.embedding_dim,
            module__channels=self.channels, module__kernel_sizes=kernel_sizes,
            module__pooling=self.pooling, module__rare=self._rare_templates(max(kappas)),
            module__embedding_weights=embedding_weights,
            module__embedding=self._embedding_module_kwargs(),
            kappas=kappas if self.frequency_filtering else None, kappa_seed=seed,
            objective=Objective(alpha=float(self.alpha), center_loss=bool(self.center_loss),
                                reconstruct="infrequent" if self.frequency_filtering
                                and self.infrequent_reconstruction else "all"),
            criterion=torch.nn.MSELoss,  # unused: get_loss holds the loss
            optimizer=torch.optim.AdamW, optimizer__weight_decay=self.weight_decay, lr=self.lr,
            max_epochs=self.max_epochs, batch_size=self.batch_size, callbacks=callbacks,
            train_split=predefined_split(Dataset({"ids": ids[valid_idx]}, None)) if n_valid
            else None,
            iterator_train__generator=torch_generator(seed),
            iterator_valid__batch_size=VALID_BATCH_SIZE,
            **self._sampler_params(len(train_idx), seed),
        )
        with self._seeded(seed):
            self.net_.fit({"ids": ids[train_idx]}, None)
        self.net_.train_split = None  # no reference to the training data in the pickle
        self.n_epochs_ = len(self.net_.history)

        self._set_threshold(self._scores((ids, lengths, None)), valid_idx)
        self.fit_time_ = time.perf_counter() - start
        return self

    # ------------------------------------------------------------ inference
    def _bytes_per_event(self):
        # embedding, teacher and student feature maps (float32), about twice over for the
        # padded inputs, the masked view and the pre-pooling copies
        return 8 * (self.embedding_dim + 2 * self.channels * len(np.ravel(self.kernel_sizes)))

    def _scores(self, encoded):
        return self._forward(
            encoded, lambda o: ((o["z"] - o["z_student"]) ** 2).mean(dim=1).cpu().numpy()
        ).astype(np.float64)

    def anomaly_score(self, X):
        """Teacher-student prediction error ``L_P`` per session (higher = more anomalous).

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        scores : ndarray of shape (n_sessions,)
        """
        return self._scores(self._encode(self._sessions(X)))

    def score_samples(self, X):
        """Opposite of :meth:`anomaly_score` (higher = more normal)."""
        return -self.anomaly_score(X)

    def _contributions(self, o):
        """Per-position shares of each session's score for one batch of module output."""
        gap = o["z"] - o["z_student"]
        dim, valid = gap.shape[1], o["valid"]
        n_valid = valid.sum(dim=1)
        contrib = torch.zeros(valid.shape, dtype=gap.dtype, device=gap.device)
        for b, k in enumerate(self.net_.module_.teacher.kernel_sizes):
            sl = slice(b * self.channels, (b + 1) * self.channels)
            if self.pooling == "max":
                diff = gap[:, sl] ** 2 / (2 * dim)
                per_window = torch.zeros_like(contrib)
                per_window.scatter_add_(1, o["where_teacher"][:, sl], diff)
                per_window.scatter_add_(1, o["where_student"][:, sl], diff)
            else:
                maps = o["maps_teacher"][b] - o["maps_student"][b]
                per_window = torch.einsum("nc,ncl->nl", gap[:, sl], maps)
                per_window = per_window / (dim * n_valid.clamp(min=1)[:, None])
            contrib += _spread_over_windows(per_window.masked_fill(~valid, 0.0), k, n_valid)
        contrib = contrib.masked_fill(~valid, 0.0)
        # pad to the longest session of the call, so batches of any width concatenate
        return F.pad(contrib, (0, self.max_length_ - contrib.shape[1])).cpu().numpy()

    def explain(self, X):
        """Per-line contribution to each session's anomaly score.

        The score is first split over convolution windows: with mean pooling
        exactly and linearly (so a window may contribute negatively); with
        max pooling every latent coordinate comes from one window in the
        teacher and one in the student, and half of its squared error is
        credited to each (non-negative). Each window's share is then divided
        equally among the lines it covers. Contributions sum to the session's
        :meth:`anomaly_score`; lines beyond ``max_length_`` get 0.

        Parameters
        ----------
        X : sequence of sessions

        Returns
        -------
        contributions : list of ndarray
            One array per session, of the session's length.
        """
        sessions = self._sessions(X)
        values = self._forward(self._encode(sessions), self._contributions, desc="explaining")
        return self._per_line(values, sessions)
