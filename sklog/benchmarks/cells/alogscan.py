"""ALogSCAN rows: HDFS raw (natural ratio), BGL sequences (balanced), and the ablations.

Every row is fitted on normal training sessions only and thresholded with
``contamination="auto"``: the highest score of the held-out 10% of the
training sessions (never used in a gradient step; the rule is that of
:func:`sklog.methods.get_method` ``("alogscan")``). The ablation rows switch
off one component each (``frequency_filtering``, ``infrequent_reconstruction``,
``center_loss``) with everything else unchanged. The full and the quick row also run on every
split of the MLAD evaluation (:data:`~sklog.benchmarks._data.MLAD_SPLITS`).
"""

from __future__ import annotations

from ...methods import get_method
from .._data import MLAD_SPLITS
from .._registry import build_for_dataset, register

METHOD = get_method("alogscan")

#: row label -> parameters; only the "quick" row runs under ``--quick`` (a full fit
#: takes minutes per row on 2 CPU cores)
ROWS = {
    "ALogSCAN": {},
    "ALogSCAN (quick, 3 epochs)": {"max_epochs": 3},
    "ALogSCAN (no DFLF)": {"frequency_filtering": False},
    "ALogSCAN (no IRCI)": {"infrequent_reconstruction": False},
    "ALogSCAN (no centre loss)": {"center_loss": False},
    "ALogSCAN (mean pooling)": {"pooling": "mean"},
    # Sentence-BERT template vectors instead of learned ids (unseen templates keep their text)
    "ALogSCAN (semantic templates)": {"template_embedding": "semantic"},
    "ALogSCAN (quick, 3 epochs, semantic templates)": {"max_epochs": 3,
                                                        "template_embedding": "semantic"},
}


def _hdfs(params):
    def build(random_state):
        return METHOD.build_pipeline(log_format="HDFS", random_state=random_state, **params)

    return build


def _bgl(params):
    def build(random_state):
        return METHOD.build(random_state, **params)

    return build


for _name, _params in ROWS.items():
    _quick = _name.startswith("ALogSCAN (quick")
    register("hdfs_raw", "natural", _name, quick=_quick, method_name=METHOD.name)(_hdfs(_params))
    register("bgl_seq", "balanced", _name, quick=_quick, method_name=METHOD.name)(_bgl(_params))


def _on(dataset, params):
    def build(random_state):
        return build_for_dataset(METHOD, dataset, random_state, **params)

    return build


for _name in ("ALogSCAN", "ALogSCAN (quick, 3 epochs)", "ALogSCAN (semantic templates)",
              "ALogSCAN (quick, 3 epochs, semantic templates)"):
    for _dataset, _protocol in MLAD_SPLITS:
        register(_dataset, _protocol, _name, quick="quick" in _name,
                 method_name=METHOD.name)(_on(_dataset, ROWS[_name]))
