"""Benchmark rows of the Siamese LSTM classifier (issue 5).

Every row uses the paper's low-cost architecture (embedding 24, BiLSTM 32 per
direction, dense 64/64/64), binary cross-entropy on ``sigmoid(x1 . x2)``,
early stopping on a seeded 10 % validation split of the training sessions,
and the default classifier on the embeddings (standard scaling + MLP with 32
hidden units) predicting by argmax: no threshold is tuned.
"""

from __future__ import annotations

from .._registry import register

_RULE = (
    "argmax of the embedding classifier (scaler + MLP); early stopping on a seeded 10% "
    "validation split of the training sessions; no threshold tuned"
)


def _siamese(random_state, **params):
    from ...siamese import SiameseClassifier

    return SiameseClassifier(random_state=random_state, **params)


@register("hdfs_deeplog", "supervised", "Siamese LSTM (K+1 pairs)", quick=True,
          threshold_rule=_RULE)
def _siamese_hdfs_kpone(random_state):
    return _siamese(random_state, pairs="kpone")


@register("hdfs_deeplog", "supervised", "Siamese LSTM (all pairs, 50k/epoch)", quick=False,
          threshold_rule=_RULE + "; pairs drawn uniformly from all n(n-1)/2 pairs, "
          "50,000 per epoch (CPU budget)")
def _siamese_hdfs_all(random_state):
    return _siamese(random_state, pairs="all", max_pairs=50_000, max_epochs=10)


@register("hdfs_raw", "natural", "DrainTemplater + Siamese LSTM", quick=False,
          threshold_rule=_RULE)
def _siamese_hdfs_raw(random_state):
    from sklearn.pipeline import make_pipeline

    from ...preprocessing import DrainTemplater

    return make_pipeline(DrainTemplater(log_format="HDFS"), _siamese(random_state))


@register("bgl_seq", "supervised", "Siamese LSTM (K+1 pairs)", quick=False,
          threshold_rule=_RULE + "; 512 pairs per batch, lr 3e-3")
def _siamese_bgl(random_state):
    return _siamese(random_state, batch_size=512, lr=3e-3)
