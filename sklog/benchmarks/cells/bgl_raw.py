"""Rows on raw BGL (``bgl_raw``): every baseline and model, split by time and at random.

Two protocols (``chronological``: windows of 20 lines; ``chronological_lines``:
one line per session) train on June-July 2005 and test on August 2005 (LogLead's
setting); ``random`` splits the same windows of the whole log 80/20. The
count-based detectors and the supervised baselines read the templates of a
``DrainTemplater`` with the loghub ``BGL`` preset fitted on the training part
(:func:`~sklog.benchmarks._registry.build_for_dataset`); the word-novelty
detector reads the raw lines, and a template-novelty variant the templates.
The sequence models (ALogSCAN, MLAD, Siamese LSTM) read the same templates,
on the windows only, in the full run (not ``--quick``).
Detectors are fitted on the normal training
sessions only and keep their own ``contamination="auto"`` rule (no threshold
is tuned); classifiers use their own decision rule.
"""

from __future__ import annotations

from ...methods import get_method
from .._registry import build_for_dataset, register

#: the :mod:`sklog.methods` names measured after a ``DrainTemplater``
TEMPLATED = ("pca", "invariants", "clustering", "logistic", "decision_tree", "linear_svc",
             "gradient_boosting")
#: the sequence models, on the windows only (a one-line session is no sequence)
SEQUENCE_MODELS = ("alogscan", "mlad", "siamese")
PROTOCOLS = ("chronological", "chronological_lines", "random")
#: the protocols whose sessions are windows
WINDOWED = ("chronological", "random")

#: DrainTemplater maps every unmatched line to one unknown template, so a session holds
#: at most one new template of that kind and a learned threshold above 0 never fires:
#: the template-novelty variant uses the fixed rule "any new template" (no tuning).
_TEMPLATE_RULE = ("threshold=0, unit='line': anomaly when a session holds any template never "
                  "seen in the training sessions (DrainTemplater maps an unmatched line to one "
                  "unknown template)")


def _templated(name, **params):
    method = get_method(name)

    def build(random_state):
        return build_for_dataset(method, "bgl_raw", random_state, **params)

    return build


def _word_novelty(random_state):
    return get_method("novelty").build(random_state)


def _template_novelty(random_state):
    return build_for_dataset(get_method("novelty"), "bgl_raw", random_state, unit="line",
                             threshold=0)


for _protocol in PROTOCOLS:
    for _name in TEMPLATED:
        # ~70k dense rows of template counts: gradient boosting in the full run only
        _quick = not (_name == "gradient_boosting" and _protocol == "chronological_lines")
        register("bgl_raw", _protocol, get_method(_name).label, quick=_quick,
                 method_name=_name)(_templated(_name))
    register("bgl_raw", _protocol, get_method("novelty").label, method_name="novelty")(
        _word_novelty)
    register("bgl_raw", _protocol, "DrainTemplater + TemplateNovelty (threshold=0)",
             method_name="novelty", threshold_rule=_TEMPLATE_RULE)(_template_novelty)

for _protocol in WINDOWED:
    for _name in SEQUENCE_MODELS:
        register("bgl_raw", _protocol, get_method(_name).label, quick=False,
                 method_name=_name)(_templated(_name))
