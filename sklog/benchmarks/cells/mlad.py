"""MLAD rows: every protocol of the MLAD tables, the older HDFS/BGL protocols, and ablations.

Every row is fitted on normal training sessions only and thresholded with
``contamination="auto"`` (the 99.5th percentile of the energies of the
held-out 10% of the training sessions, never used in a gradient step). The ablation rows change
one setting each: ``alpha`` (1.0 is softmax attention), no Gaussian mixture
(the score is the mean next-template prediction error), learned template
embeddings instead of Sentence-BERT vectors. ``MLAD (transition memory)`` is
the extension beyond the paper (``transition_memory=True``): the energy plus
the run transitions never seen in training, on every split (see the MLAD
Notes for what it measured).
"""

from __future__ import annotations

from ...methods import get_method
from .._data import MLAD_SPLITS
from .._registry import build_for_dataset, register

METHOD = get_method("mlad")

#: row label -> parameters
ROWS = {
    "MLAD": {},
    "MLAD (quick, 3 epochs)": {"max_epochs": 3},
    "MLAD (learned embeddings)": {"template_embedding": "learned"},
    #: the extension beyond the paper: unseen transitions between template runs add to the
    #: energy (``transition_memory``; see the MLAD Notes)
    "MLAD (transition memory)": {"transition_memory": True},
}

#: the issue's ablations, on the two MLAD protocols with anomalies in both systems
ABLATIONS = {
    "MLAD (alpha=1.0, softmax)": {"alpha": 1.0},
    "MLAD (alpha=1.2)": {"alpha": 1.2},
    "MLAD (no Gaussian mixture)": {"gaussian_mixture": False},
}


def _on(dataset, params):
    def build(random_state):
        return build_for_dataset(METHOD, dataset, random_state, **params)

    return build


#: the memory's part of the threshold rule
_MEMORY_RULE = (METHOD.threshold_rule + "; the score adds the range of the training energies "
                "per run transition never seen in the sessions the network trained on (the "
                "held-out 10% are scored against that memory)")

_SPLITS = (*MLAD_SPLITS, ("hdfs_raw", "natural"), ("bgl_seq", "balanced"))
for _dataset, _protocol in _SPLITS:
    for _name, _params in ROWS.items():
        register(_dataset, _protocol, _name, quick=_name.startswith("MLAD (quick"),
                 method_name=METHOD.name,
                 threshold_rule=_MEMORY_RULE if _params.get("transition_memory") else None)(
            _on(_dataset, _params))
for _dataset, _protocol in (("hdfs_raw", "mlad_balanced"), ("bgl_seq", "mlad_balanced")):
    for _name, _params in ABLATIONS.items():
        register(_dataset, _protocol, _name, quick=False, method_name=METHOD.name)(
            _on(_dataset, _params))
