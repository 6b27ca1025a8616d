"""Benchmark rows of CLAD on compressed bytes (issue 9).

Every row is ``ByteWindower`` (zstd with a dictionary trained on the training
sessions, ``max_bytes=1024``: 99% of HDFS blocks compress to under 500 bytes)
followed by :class:`~sklog.clad.CLAD`, fitted on all training sessions with
their labels (natural ratio, no resampling). The label is the argmax of the
class head; early stopping watches the validation loss of a seeded,
stratified 10% of the training sessions. The CPU budget of these rows is one
pre-training epoch and at most 10 fine-tuning epochs (patience 2); the
ablation rows change one thing each. Seed 0 on CPU (see :class:`~sklog.clad.CLAD`,
Notes): F1 0.00 for the default row, 0.25 (precision 1.0, recall 0.15) for
the cross-entropy row; the other rows were not run yet.
"""

from __future__ import annotations

_RULE = ("argmax of the class head, no threshold tuned; early stopping (patience 2, at most "
         "10 epochs after 1 masked-byte pre-training epoch) on a seeded stratified 10% of the "
         "training sessions")

#: CPU budget shared by every row (the estimator's defaults are 2 and 20 epochs, patience 3)
_BUDGET = {"pretrain_epochs": 1, "max_epochs": 10, "patience": 2}

#: row label -> (ByteWindower parameters, CLAD parameters)
_VARIANTS = {
    "ByteWindower(zstd) + CLAD": ({}, {}),
    "ByteWindower(zstd) + CLAD (no pre-training)": ({}, {"pretrain_epochs": 0}),
    "ByteWindower(zstd) + CLAD (cross-entropy)": ({}, {"loss": "cross_entropy"}),
    "ByteWindower(zstd) + CLAD (Transformer only)": ({}, {"encoder": "transformer"}),
    "ByteWindower(raw bytes) + CLAD": ({"codec": None}, {}),
    "ByteWindower(gzip) + CLAD": ({"codec": "gzip"}, {}),
}


def _clad_hdfs_raw(windower_params, clad_params):
    def build(random_state):
        from sklearn.pipeline import make_pipeline

        from ...clad import CLAD
        from ...preprocessing import ByteWindower

        windower = ByteWindower(**{"max_bytes": 1024, **windower_params})
        return make_pipeline(windower, CLAD(**{**_BUDGET, **clad_params},
                                            random_state=random_state))

    return build


#: Not registered yet: every hdfs_raw/natural row must name a method of
#: :data:`sklog.methods.METHODS` (tests/test_methods.py), and CLAD is not one yet, since
#: ``Method.build_pipeline`` puts a ``DrainTemplater`` first while CLAD reads raw lines
#: through its own ``ByteWindower``. The measured figures above came from these rows,
#: registered with ``register("hdfs_raw", "natural", label, quick=False,
#: threshold_rule=_RULE)``; ``build_rows()`` gives the builders.
def build_rows():
    """``{row label: build(random_state)}`` of the rows above."""
    return {label: _clad_hdfs_raw(windower, clad)
            for label, (windower, clad) in _VARIANTS.items()}
