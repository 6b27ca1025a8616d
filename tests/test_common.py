"""scikit-learn's own estimator checks on every public estimator.

Each estimator family adds itself to ``CHECKED`` with tiny settings (so the
whole module runs in seconds on CPU) and lists in ``EXPECTED_FAILED_CHECKS``
any scikit-learn check that fails, with the assertion that fails and why.
scikit-learn matches those names without their arguments: an entry
``check_outliers_train`` covers ``check_outliers_train(readonly_memmap=True)``.
The assertions of an expected failure that do apply to sessions run in
``tests/test_session_checks.py``, on every estimator here (``DrainTemplater``
included, which scikit-learn's generated-array checks skip).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklog
from sklog.alogscan import ALogSCAN
from sklog.baselines import InvariantsMiner, LogClustering, NoveltyDetector, PCADetector
from sklog.clad import CLAD
from sklog.drift import DriftMonitor
from sklog.feature_extraction import BertEmbedder, StructuralFeatures, TemplateCounter
from sklog.feature_selection import MutualInfoSelector
from sklog.meta import (
    DriftLabelTransfer,
    FewShotAdapter,
    MAMLClassifier,
    ProtoNetClassifier,
)
from sklog.mlad import MLAD
from sklog.preprocessing import ByteWindower, DrainTemplater
from sklog.siamese import SiameseClassifier

# The assertion that fails, and why it cannot hold for rows that are sessions.
NO_N_FEATURES_IN = (
    "it asserts fit sets n_features_in_; a session is a sequence of any length, so there is "
    "no number of input features to record (test_session_checks: sessions of any length)"
)
PREDICT_ON_X_T = (
    "it asserts predict(X.T) raises ValueError; X.T is valid input, two sessions of 300 "
    "events (test_session_checks: test_outliers_train_on_sessions runs the rest)"
)
TRANSFORM_FEWER_COLUMNS = (
    "it asserts transform(X[:, :-1]) raises ValueError; a row one event shorter is a valid "
    "session (test_session_checks: test_transformer_general_on_sessions runs the rest)"
)
SESSION_FEATURES = {
    "check_n_features_in": NO_N_FEATURES_IN,
    "check_n_features_in_after_fitting": NO_N_FEATURES_IN,
}
# sklearn's blobs become sessions of two float tokens found in no other session, so the
# two count-based detectors below flag no training session (it fails before predict(X.T))
INVARIANTS_ON_BLOBS = (
    "it asserts predict on the training blobs gives both -1 and +1; every invariant mined "
    "pairs one session's own two tokens (count(a) == count(b)), so all hold on every "
    "training session, all training scores are 0 and none is flagged "
    "(test_session_checks runs it on sessions)"
)
NOVELTY_ON_BLOBS = (
    "it asserts predict on the training blobs gives both -1 and +1; a blob's two float "
    "tokens are masked to the same words in every session, so no training session holds a "
    "new word and none is flagged (test_session_checks runs it on sessions)"
)
CLUSTERS_ON_BLOBS = (
    "it asserts predict on the training blobs gives both -1 and +1; no two sessions share a "
    "token (cosine distance 1 > max_dist), so each is a cluster of its own at distance 0, all "
    "training scores are 0 and none is flagged (test_session_checks runs it on sessions)"
)

# name -> estimator instance with tiny settings
CHECKED = {
    "TemplateCounter": TemplateCounter(),
    "StructuralFeatures": StructuralFeatures(),
    # numeric features (e.g. BertEmbedder's vectors) and class labels, like any selector
    "MutualInfoSelector": MutualInfoSelector(k=2, n_estimators=5, random_state=0),
    "ProtoNetClassifier": ProtoNetClassifier(hidden=(8,), embedding_dim=4, n_episodes=20,
                                             max_epochs=3, random_state=0),
    # sessions of template strings only (two_d_array=False), like DrainTemplater
    "DriftLabelTransfer": DriftLabelTransfer(),
    # without a target it is its features and learner on every row (test_loso: adaptation)
    "FewShotAdapter": FewShotAdapter(StructuralFeatures(), ProtoNetClassifier(
        hidden=(8,), embedding_dim=4, n_episodes=20, max_epochs=3, random_state=0)),
    "MAMLClassifier": MAMLClassifier(hidden=(8,), n_episodes=20, max_epochs=3, lr=1e-2,
                                     first_order=True, random_state=0),
    # the packaged all-MiniLM-L6-v2 (loaded once per process, shared by every clone)
    "BertEmbedder": BertEmbedder(batch_size=16, device="cpu"),
    # raw text only (two_d_array=False): sklearn skips its generated-array checks with a
    # SkipTestWarning; tests/test_session_checks.py runs session-aware ones on it.
    "DrainTemplater": DrainTemplater(),
    # raw text only, like DrainTemplater (zstd with a dictionary trained on the sessions)
    "ByteWindower": ByteWindower(max_bytes=256),
    "ALogSCAN": ALogSCAN(embedding_dim=4, channels=4, max_epochs=2, random_state=0),
    # the default Sentence-BERT template vectors (the shared packaged model)
    "MLAD": MLAD(d_model=4, n_heads=2, d_ff=8, latent_dim=2, n_components=2, max_epochs=2,
                 random_state=0),
    "PCADetector": PCADetector(),
    "InvariantsMiner": InvariantsMiner(max_invariant_length=2),
    "LogClustering": LogClustering(n_bootstrap_samples=50),
    "NoveltyDetector": NoveltyDetector(),
    "SiameseClassifier": SiameseClassifier(embedding_dim=4, lstm_units=(4,), dense_units=(8,),
                                           max_epochs=2, random_state=0),
    "DriftMonitor": DriftMonitor(n_components=2, n_bootstrap=20, random_state=0),
    # bytes are categorical (input tag): sklearn's checks round their data to small integers
    "CLAD": CLAD(d_model=8, n_heads=2, n_blocks=1, pretrain_epochs=1, max_epochs=3,
                 random_state=0),
}

# CLAD reads ByteWindower rows: bytes 0-255 and -1 padding, nothing else
NOT_BYTES = (
    "it fits on float blobs (not rounded by the categorical input tag); CLAD rejects values "
    "that are not bytes 0-255 or the -1 padding with a ValueError (test_clad: test_input_errors)"
)

# name -> {check name: the assertion that fails and why}; strict: a check that passes fails
EXPECTED_FAILED_CHECKS = {
    "MAMLClassifier": {
        # test_maml.py checks accuracy after adapt() on a system never seen in training
        "check_classifiers_train": (
            "it asserts training accuracy > 0.83 of the weights as fitted; MAML learns the "
            "starting point that a few inner steps turn into a classifier, not a classifier "
            "of the training blobs (3 tiny epochs: 0.6-0.8)"
        ),
    },
    "CLAD": {
        # test_clad.py checks learning on the bytes of HDFS-like sessions
        "check_classifiers_train": (
            "it asserts training accuracy > 0.83; sklearn's blobs become rows of two small "
            "integers (bytes), which 3 tiny epochs cannot separate"
        ),
        "check_class_weight_classifiers": NOT_BYTES,
        "check_decision_proba_consistency": NOT_BYTES,
        "check_fit_non_negative": (
            "it asserts fit raises ValueError on X holding -1 (positive_only tag); -1 is "
            "ByteWindower's padding value, valid input (values below it raise)"
        ),
        "check_methods_sample_order_invariance": (
            "it asserts decision_function equal to rtol=1e-7; a row batched with other rows "
            "gets float32 results ~1e-8 apart"
        ),
        "check_methods_subset_invariance": (
            "it asserts decision_function equal to rtol=1e-7; a row scored alone or in a "
            "batch (other padding widths) gets float32 results ~1e-7 apart "
            "(test_session_checks compares batches at float32 tolerance)"
        ),
    },
    "TemplateCounter": {**SESSION_FEATURES, "check_transformer_general": TRANSFORM_FEWER_COLUMNS},
    "StructuralFeatures": {**SESSION_FEATURES,
                           "check_transformer_general": TRANSFORM_FEWER_COLUMNS},
    "BertEmbedder": {**SESSION_FEATURES, "check_transformer_general": TRANSFORM_FEWER_COLUMNS},
    "ALogSCAN": {**SESSION_FEATURES, "check_outliers_train": PREDICT_ON_X_T},
    "MLAD": {
        **SESSION_FEATURES,
        "check_outliers_train": PREDICT_ON_X_T,
        # with contamination="auto" the threshold is the highest held-out energy; on these
        # blobs no training session of the tiny model lies above it (test_mlad.py checks
        # that anomalies do)
        "check_outliers_fit_predict": "it asserts predict(X_train) holds both -1 and 1",
    },
    "PCADetector": {**SESSION_FEATURES, "check_outliers_train": PREDICT_ON_X_T},
    "InvariantsMiner": {
        **SESSION_FEATURES,
        "check_outliers_train": INVARIANTS_ON_BLOBS,
        "check_outliers_fit_predict": INVARIANTS_ON_BLOBS,
    },
    "LogClustering": {
        **SESSION_FEATURES,
        "check_outliers_train": CLUSTERS_ON_BLOBS,
        "check_outliers_fit_predict": CLUSTERS_ON_BLOBS,
    },
    "NoveltyDetector": {
        **SESSION_FEATURES,
        "check_outliers_train": NOVELTY_ON_BLOBS,
        "check_outliers_fit_predict": NOVELTY_ON_BLOBS,
    },
    "SiameseClassifier": {
        **SESSION_FEATURES,
        "check_transformer_general": TRANSFORM_FEWER_COLUMNS,
        # test_siamese.py checks learning on template sessions
        "check_classifiers_train": (
            "it asserts training accuracy > 0.83; sklearn's blobs become sessions of float "
            "tokens each seen once, which 2 tiny epochs cannot separate"
        ),
    },
}

# name -> {check name: why it fails on some machines only}: xfailed when it fails, passes when
# it passes (a strict xfail would fail on the machines where it passes)
MACHINE_DEPENDENT_CHECKS = {
    "SiameseClassifier": {
        # test_session_checks compares with a float32 tolerance and requires equal labels
        "check_methods_sample_order_invariance": (
            "it asserts predict_proba equal to rtol=1e-7; a session batched with other "
            "neighbours gets float32 LSTM results up to ~6e-8 apart, depending on the CPU's "
            "kernels (equal on some machines)"
        ),
    },
}


def _public_estimator_classes():
    found = {}
    for info in pkgutil.walk_packages(sklog.__path__, "sklog."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        if info.name.startswith(("sklog.benchmarks", "sklog.cli")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            # sklog.nn holds torch building blocks (skorch nets), not estimators on sessions
            if (issubclass(obj, BaseEstimator) and obj.__module__.startswith("sklog")
                    and not obj.__module__.startswith("sklog.nn") and not name.startswith("_")):
                found[name] = obj
    return found


def test_every_public_estimator_is_checked():
    missing = sorted(set(_public_estimator_classes()) - set(CHECKED))
    assert not missing, f"add these estimators to CHECKED in tests/test_common.py: {missing}"


@parametrize_with_checks(
    list(CHECKED.values()),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
    xfail_strict=True,
)
def test_sklearn_compatible(estimator, check):
    params = repr(estimator.get_params())
    name = getattr(check, "func", check).__name__
    reason = MACHINE_DEPENDENT_CHECKS.get(type(estimator).__name__, {}).get(name)
    try:
        check(estimator)  # raises AssertionError (or another error) when the check fails
    except AssertionError:
        if reason is None:
            raise
        pytest.xfail(reason)
    # the instance is shared with tests/test_session_checks.py: no check may change it
    assert repr(estimator.get_params()) == params


#: estimators of feature arrays, not of sessions: scikit-learn's own checks are theirs
ARRAY_INPUT = {"MAMLClassifier", "MutualInfoSelector", "ProtoNetClassifier"}


@pytest.mark.parametrize("name", sorted(set(CHECKED) - ARRAY_INPUT))
def test_rejects_bare_string(name):
    est = CHECKED[name]
    with pytest.raises(TypeError, match="sequence of sessions"):
        est.fit("just one line of log")
