"""The methods of scikit-log, listed once for the ``sklog`` command, the demo and the benchmark.

Each :class:`Method` names an estimator factory by a lazy ``"module:attribute"``
string, so importing this registry imports neither torch nor scikit-learn.
A new method needs its module and one entry in :data:`METHODS`; it then
appears in ``sklog fit --method``, in ``sklog demo`` (when it has
``demo_params``) and, when no benchmark cell measures it on raw HDFS yet, in a
default ``hdfs_raw``/``natural`` benchmark row.

Examples
--------
>>> from sklog.methods import METHODS, get_method
>>> list(METHODS)[:3]
['pca', 'invariants', 'clustering']
>>> method = get_method("alogscan")
>>> method.label, method.kind, method.needs_labels
('ALogSCAN', 'detector', False)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import MappingProxyType

KINDS = ("detector", "classifier")


@dataclass(frozen=True)
class Method:
    """One method: what builds it, what it needs, how it decides.

    Parameters
    ----------
    name : str
        The ``sklog fit --method`` name, e.g. ``"alogscan"``.
    label : str
        The display name in tables, e.g. ``"ALogSCAN"``; also the label of
        the method's default benchmark row.
    factory : str
        ``"module:attribute"`` of a class or function returning an unfitted
        estimator, e.g. ``"sklog.alogscan:ALogSCAN"``. Imported only by
        :meth:`load_factory`.
    kind : {"detector", "classifier"}
        Detectors learn normal behaviour (``OutlierMixin``); classifiers
        learn from labeled sessions.
    needs_labels : bool
        Whether ``fit`` needs session labels.
    threshold_rule : str
        How the method turns scores into anomaly decisions, in words; recorded
        in every benchmark row of the method.
    description : str
        One line for ``sklog fit --help``.
    demo_params : dict or None, default=None
        Small settings for ``sklog demo`` (few epochs), or ``None`` to leave
        the method out of the demo.
    accepts_random_state : bool, default=False
        Whether the factory takes ``random_state``.
    templater : bool, default=True
        Whether the method reads template strings, so that
        :meth:`build_pipeline` puts a ``DrainTemplater`` before it. ``False``
        for a method whose factory already reads raw lines (CLAD's pipeline
        starts with its own ``ByteWindower``).

    Examples
    --------
    >>> from sklog.methods import Method
    >>> method = Method(
    ...     name="pca", label="PCA", factory="sklog.baselines:PCADetector", kind="detector",
    ...     needs_labels=False, threshold_rule="Q-statistic", description="PCA residual")
    >>> method.build(n_components=3)
    PCADetector(n_components=3)
    """

    name: str
    label: str
    factory: str
    kind: str
    needs_labels: bool
    threshold_rule: str
    description: str
    demo_params: dict | None = field(default=None, compare=False)
    accepts_random_state: bool = False
    templater: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Method {self.name!r}: kind must be one of {KINDS}, "
                             f"got {self.kind!r}.")
        module, _, attribute = self.factory.partition(":")
        if not module or not attribute:
            raise ValueError(f"Method {self.name!r}: factory must be 'module:attribute', "
                             f"got {self.factory!r}.")
        if self.demo_params is not None:  # one shared entry: nobody edits it by accident
            object.__setattr__(self, "demo_params", MappingProxyType(dict(self.demo_params)))

    def load_factory(self):
        """Import and return the factory (a class or a function).

        Returns
        -------
        factory : callable
            Raises ``ImportError`` when this installation lacks the method.
        """
        module, _, attribute = self.factory.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except AttributeError as exc:
            raise ImportError(f"{module} has no {attribute!r} (method {self.name!r})") from exc

    def build(self, random_state=None, **params):
        """An unfitted estimator: ``factory(**params)``, seeded when the factory takes one.

        Parameters
        ----------
        random_state : int, RandomState instance or None, default=None
            Passed on when :attr:`accepts_random_state`; ignored otherwise
            (the method has no randomness).
        **params
            Keyword arguments of the factory.

        Returns
        -------
        estimator : estimator or Pipeline
        """
        if self.accepts_random_state:
            params = {"random_state": random_state, **params}
        return self.load_factory()(**params)

    def build_pipeline(self, log_format=None, random_state=None, **params):
        """``DrainTemplater(log_format)`` followed by the method: raw lines in, decisions out.

        When the factory already returns a pipeline (the supervised baselines
        do), the templater becomes its first step, so the pipeline stays flat.
        A method with ``templater=False`` reads raw lines itself: its
        pipeline comes back as the factory builds it (a bare estimator
        wrapped in a one-step pipeline) and ``log_format`` is not used.

        Parameters
        ----------
        log_format : str or None, default=None
            :class:`~sklog.preprocessing.DrainTemplater`'s ``log_format``.
        random_state : int, RandomState instance or None, default=None
            As in :meth:`build`.
        **params
            Keyword arguments of the factory.

        Returns
        -------
        pipeline : Pipeline
            Steps named as :func:`~sklearn.pipeline.make_pipeline` names
            them (``"draintemplater"`` first, unless ``templater=False``).

        Examples
        --------
        >>> from sklog.methods import get_method
        >>> pipe = get_method("logistic").build_pipeline(log_format="HDFS", random_state=0)
        >>> [name for name, _ in pipe.steps]
        ['draintemplater', 'templatecounter', 'logisticregression']
        >>> [name for name, _ in get_method("clad").build_pipeline(random_state=0).steps]
        ['bytewindower', 'clad']
        """
        from sklearn.pipeline import Pipeline, make_pipeline

        from .preprocessing import DrainTemplater

        estimator = self.build(random_state, **params)
        if not self.templater:
            return estimator if isinstance(estimator, Pipeline) else make_pipeline(estimator)
        templater = DrainTemplater(log_format=log_format)
        if isinstance(estimator, Pipeline):
            estimator.steps.insert(0, ("draintemplater", templater))
            return estimator
        return make_pipeline(templater, estimator)


_COUNTS_RULE = "the classifier's own decision rule (predict), fitted on labeled training data"

#: the unsupervised baselines on template counts: (name, label, class, threshold rule,
#: description)
_COUNT_DETECTORS = (
    ("pca", "PCA", "PCADetector",
     "Q-statistic SPE limit at confidence 0.999 (c_alpha=3.2905) from the training covariance",
     "PCA residual (squared prediction error) of template counts"),
    ("invariants", "InvariantsMiner", "InvariantsMiner",
     "anomaly when any invariant mined from the training sessions is violated",
     "invariants mining: linear relations between template counts"),
    ("clustering", "LogClustering", "LogClustering",
     "anomaly when the cosine distance to the nearest training cluster exceeds "
     "anomaly_threshold=0.3",
     "log clustering: distance of template counts to normal clusters"),
)

#: the supervised baselines on template counts: (name, label, factory, what, in the demo)
_COUNT_CLASSIFIERS = (
    ("logistic", "LogisticRegression", "make_logistic_regression", "logistic regression", True),
    ("decision_tree", "DecisionTree", "make_decision_tree", "decision tree", True),
    ("linear_svc", "LinearSVC", "make_linear_svc", "linear SVM", False),
    ("gradient_boosting", "HistGradientBoosting", "make_hist_gradient_boosting",
     "histogram gradient boosting", False),
)

_CLAD_RULE = ("log-odds threshold maximising F1 on the seeded stratified 10% of the training "
              "sessions held out for early stopping (threshold='auto'; argmax when that part "
              "holds no anomaly)")

#: name -> :class:`Method`, in display order: baselines, then the papers' methods.
METHODS = {method.name: method for method in (
    *(Method(name=name, label=label, factory=f"sklog.baselines:{cls}", kind="detector",
             needs_labels=False, threshold_rule=f"contamination='auto': {rule}",
             description=description, demo_params={})
      for name, label, cls, rule, description in _COUNT_DETECTORS),
    Method(
        name="novelty", label="WordNovelty", factory="sklog.baselines:NoveltyDetector",
        kind="detector", needs_labels=False,
        threshold_rule="contamination='auto': anomaly when a session holds more distinct new "
                       "words (whitespace tokens after masking hex values and digit runs) "
                       "than any of the last 20% of the training sessions holds against the "
                       "vocabulary of the first 80% (threshold='auto', holdout=0.2)",
        description="word novelty: count of words never seen in training (LogLead's OOV rule)",
    ),
    *(Method(name=name, label=label, factory=f"sklog.baselines:{factory}", kind="classifier",
             needs_labels=True, threshold_rule=_COUNTS_RULE,
             description=f"{what} on {'' if name == 'gradient_boosting' else 'tf-idf '}"
                         "template counts",
             demo_params=({} if in_demo else None), accepts_random_state=True)
      for name, label, factory, what, in_demo in _COUNT_CLASSIFIERS),
    Method(
        name="alogscan", label="ALogSCAN", factory="sklog.alogscan:ALogSCAN", kind="detector",
        needs_labels=False,
        threshold_rule="contamination='auto': max anomaly score over the held-out 10% of the "
                       "normal training sessions (not used in gradient steps)",
        description="ALogSCAN: self-supervised teacher/student CNNs on template sequences "
                    "with frequency-based filtering",
        demo_params={"max_epochs": 5, "patience": 5, "channels": 32, "device": "cpu"},
        accepts_random_state=True,
    ),
    Method(
        name="mlad", label="MLAD", factory="sklog.mlad:MLAD", kind="detector",
        needs_labels=False,
        threshold_rule="contamination='auto': 99.5th percentile of the energies of the "
                       "held-out 10% of the normal training sessions (not used in gradient "
                       "steps)",
        description="MLAD: Sentence-BERT template vectors, entmax-attention Transformer, "
                    "Gaussian-mixture energy; one model for many systems",
        demo_params={"max_epochs": 3, "device": "cpu"},
        accepts_random_state=True,
    ),
    Method(
        name="siamese", label="Siamese LSTM", factory="sklog.siamese:SiameseClassifier",
        kind="classifier", needs_labels=True,
        threshold_rule="argmax of the embedding classifier (scaler + MLP); early stopping on "
                       "a seeded 10% validation split of the training sessions; no threshold "
                       "tuned",
        description="Siamese LSTM: session embeddings learnt from pairs, then an MLP on them",
        demo_params={"max_epochs": 3, "device": "cpu"},
        accepts_random_state=True,
    ),
    Method(
        name="clad", label="CLAD", factory="sklog.clad:make_clad_pipeline", kind="classifier",
        needs_labels=True,
        threshold_rule=_CLAD_RULE,
        description="CLAD: compressed bytes of each session (ByteWindower, zstd), dilated "
                    "convolutions, mLSTM + self-attention, focal + contrastive loss",
        accepts_random_state=True, templater=False,
    ),
)}


def get_method(name):
    """The :class:`Method` called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`METHODS`, e.g. ``"pca"``.

    Returns
    -------
    method : Method

    Examples
    --------
    >>> from sklog.methods import get_method
    >>> get_method("siamese").kind
    'classifier'
    >>> get_method("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown method 'nope'; known methods: pca, invariants, ...
    """
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown method {name!r}; known methods: "
                         f"{', '.join(METHODS)}.") from None
