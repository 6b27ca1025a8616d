"""Benchmark datasets and protocols: every (dataset, protocol) pair becomes one :class:`Split`.

The split is computed here, once per seed, and the harness hands only its
training part to an estimator; the test part is used once, for scoring.
Names and semantics follow the benchmark contract (``hdfs_raw``,
``hdfs_deeplog``, ``bgl_seq``; ``natural``, ``supervised``, ``balanced``).

The MLAD evaluation (Zang et al., arXiv 2401.07655) adds:

``bgl_raw`` / ``chronological`` and ``chronological_lines`` (LogLead's BGL split by time)
    ``bgl/bgl_raw_sample.log.gz`` (June-August 2005, sorted by time), label
    column removed: train = the June and July lines, test = the August lines
    (:data:`BGL_RAW_TEST_FROM`), the same for every seed. ``chronological``
    cuts each part on its own into non-overlapping windows of
    :data:`BGL_RAW_WINDOW` lines (no window straddles the cut; a window is
    anomalous when it holds an alert line); ``chronological_lines`` makes
    every line its own session. ``random`` (issue #9's second BGL row) cuts the
    whole log into the same windows and splits them at random, stratified
    80/20 per seed, so training and test share their months. As everywhere,
    the harness fits detectors on the *normal* training sessions only and
    classifiers on all training sessions with labels; count-based methods get
    a ``DrainTemplater`` with the loghub ``BGL`` preset (without its
    ``<Label>`` field) first.
``mlad_balanced`` (datasets ``hdfs_raw``, ``bgl_seq``, ``thunderbird_2k``)
    :func:`sklog.metrics.balanced_normal_split` of the dataset's labeled
    sessions: test = every anomalous session + as many normal sessions drawn
    at random (1:1); training = every other normal session. ``bgl_seq``'s
    sessions are the given windows of ``test_normal_sample`` and
    ``test_abnormal``; ``thunderbird_2k``'s are non-overlapping windows of
    20 lines of ``loghub/Thunderbird/Thunderbird_2k.log`` (label column
    removed).
dataset ``multi_system`` (one detector for several systems)
    Sessions of template strings of the systems :data:`MULTI_SYSTEMS`
    (``hdfs``, ``bgl``, ``thunderbird``), each split by its own
    ``mlad_balanced`` split with the same seed (so ``hdfs``'s parts are those
    of ``hdfs_raw``/``mlad_balanced``). Raw-line systems are templated by a
    ``DrainTemplater`` fitted on that system's training part only. Protocols:

    - ``<system>``: train and test of that system, e.g. ``hdfs``;
    - ``fused:<system>``: train = union of the training parts of all
      systems, test = that system's test part, e.g. ``fused:bgl``;
    - ``transfer:<src>-><dst>``: train = ``src``'s training part, test =
      ``dst``'s test part, e.g. ``transfer:hdfs->bgl``.

:data:`MLAD_SPLITS` lists the (dataset, protocol) pairs of the MLAD tables
(those with anomalies to test on); a row for a method on one of them is one
``register(dataset, protocol, label)`` call, with
:func:`~sklog.benchmarks._registry.build_for_dataset` putting a
``DrainTemplater`` first on raw-line datasets (:data:`TEMPLATERS`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..preprocessing import without_label_field

#: ``multi_system`` system name -> the dataset whose labeled sessions it takes
MULTI_SYSTEMS = {"hdfs": "hdfs_raw", "bgl": "bgl_seq", "thunderbird": "thunderbird_2k"}


def _multi_system_protocols():
    names = list(MULTI_SYSTEMS)
    return (*names, *(f"fused:{s}" for s in names),
            *(f"transfer:{a}->{b}" for a in names for b in names if a != b))


#: dataset -> protocols it supports
PROTOCOLS = {
    "hdfs_raw": ("natural", "mlad_balanced"),
    "hdfs_deeplog": ("supervised",),
    "bgl_seq": ("supervised", "balanced", "mlad_balanced"),
    "thunderbird_2k": ("mlad_balanced",),
    "bgl_raw": ("chronological", "chronological_lines", "random"),
    "multi_system": _multi_system_protocols(),
}

#: leave-one-system-out (issue #10): system name -> the dataset of its labelled sessions
LOSO_SYSTEMS = {"hdfs": "hdfs_raw", "bgl": "bgl_raw"}
#: labelled target sessions *per class* in the support set (k anomalous + k normal)
LOSO_SHOTS = (0, 5, 10, 20)
#: sessions kept per system (stratified, seeded): bounds the CPU cost of a row
LOSO_MAX_SESSIONS = 4000
#: share of the target's sessions the support may be drawn from; the rest is the test part
LOSO_POOL_SIZE = 0.5
#: windows of raw BGL lines (non-overlapping) of the ``loso`` dataset
LOSO_BGL_WINDOW = 20


#: suffix of the ``loso`` protocols whose training part also holds the target's other pool
#: sessions without their labels (y = -1, :data:`sklog.meta.UNLABELLED`)
LOSO_UNLABELLED = "+unlabelled"


def loso_protocol(target, k, unlabelled=False):
    """The ``loso`` protocol name of left-out system ``target`` with ``k`` shots per class.

    Examples
    --------
    >>> from sklog.benchmarks._data import loso_protocol, loso_roles
    >>> loso_protocol("bgl", 5), loso_roles("bgl:k=5")
    ('bgl:k=5', (('hdfs',), 'bgl', 5))
    >>> loso_protocol("bgl", 5, unlabelled=True), loso_roles("bgl:k=5+unlabelled")
    ('bgl:k=5+unlabelled', (('hdfs',), 'bgl', 5))
    """
    return f"{target}:k={k}" + (LOSO_UNLABELLED if unlabelled else "")


#: ``<target>:ceiling``: a single-system model on the target's whole labelled support pool
LOSO_CEILING = "ceiling"


def loso_roles(protocol):
    """``(source systems, target system, k)`` of a ``loso`` protocol (``k`` is
    :data:`LOSO_CEILING` for ``<target>:ceiling``: no source, the whole pool labelled)."""
    if protocol.endswith(":" + LOSO_CEILING) and protocol.split(":")[0] in LOSO_SYSTEMS:
        return (), protocol.split(":")[0], LOSO_CEILING
    target, _, k = protocol.removesuffix(LOSO_UNLABELLED).partition(":k=")
    if target not in LOSO_SYSTEMS or not k.isdigit():
        raise DataUnavailable(f"dataset 'loso' has no protocol {protocol!r}")
    return tuple(s for s in LOSO_SYSTEMS if s != target), target, int(k)


PROTOCOLS["loso"] = (*(loso_protocol(t, k, u) for u in (False, True) for t in LOSO_SYSTEMS
                       for k in LOSO_SHOTS),
                     *(f"{t}:{LOSO_CEILING}" for t in LOSO_SYSTEMS))

#: The (dataset, protocol) pairs of the MLAD evaluation tables, in table order.
#: ``thunderbird_2k`` holds no alert line (every column 1 is ``-``), so its test
#: parts are empty: its split raises :class:`DataUnavailable`, and in
#: ``multi_system`` it contributes training sessions only (``fused:*``,
#: ``transfer:thunderbird->*``).
MLAD_SPLITS = (
    ("hdfs_raw", "mlad_balanced"),
    ("bgl_seq", "mlad_balanced"),
    ("thunderbird_2k", "mlad_balanced"),
    ("multi_system", "hdfs"),
    ("multi_system", "bgl"),
    ("multi_system", "fused:hdfs"),
    ("multi_system", "fused:bgl"),
    ("multi_system", "transfer:hdfs->bgl"),
    ("multi_system", "transfer:bgl->hdfs"),
)

#: Lines per window of ``thunderbird_2k`` (non-overlapping).
THUNDERBIRD_WINDOW = 20

#: Lines per window of ``bgl_raw``/``chronological`` (non-overlapping, as in LogLead).
BGL_RAW_WINDOW = 20

#: ``bgl_raw``'s test part: lines dated on or after this day (``YYYY.MM.DD``, column 3).
BGL_RAW_TEST_FROM = "2005.08.01"

#: How sessions are cut, per dataset and protocol (recorded in every row).
SESSION_RULES = {
    ("hdfs_raw", "natural"): r"one session per HDFS block: every raw line naming blk_-?\d+",
    ("hdfs_deeplog", "supervised"): "one session per HDFS block (DeepLog event-id sequences)",
    ("bgl_seq", "supervised"): "given BGL windows (~21 events) of test_normal_sample/test_abnormal",
    ("bgl_seq", "balanced"): (
        "train: non-overlapping windows of 20 events cut from each train.txt line; "
        "test: given BGL windows (~21 events)"
    ),
    ("hdfs_raw", "mlad_balanced"): r"one session per HDFS block: every raw line naming blk_-?\d+",
    ("bgl_seq", "mlad_balanced"): (
        "given BGL windows (~21 events) of test_normal_sample/test_abnormal"),
    ("thunderbird_2k", "mlad_balanced"): (
        f"non-overlapping windows of {THUNDERBIRD_WINDOW} raw lines of Thunderbird_2k.log, label "
        "column removed; a window is anomalous when it holds an alert line"),
    ("bgl_raw", "chronological"): (
        f"non-overlapping windows of {BGL_RAW_WINDOW} raw lines of bgl_raw_sample.log.gz, label "
        "column removed, cut separately in the training and the test part; a window is "
        "anomalous when it holds an alert line"),
    ("bgl_raw", "random"): (
        f"non-overlapping windows of {BGL_RAW_WINDOW} raw lines of the whole "
        "bgl_raw_sample.log.gz, label column removed; a window is anomalous when it holds an "
        "alert line"),
    ("bgl_raw", "chronological_lines"): (
        "one session per raw line of bgl_raw_sample.log.gz, label column removed; anomalous "
        "when it is an alert line"),
    **{("multi_system", p): (
        "template strings per system: HDFS blocks templated by DrainTemplater(log_format='HDFS') "
        "fitted on the HDFS training part; given BGL windows (template text); Thunderbird_2k "
        f"windows of {THUNDERBIRD_WINDOW} lines templated by the Thunderbird preset fitted on its "
        "training part") for p in PROTOCOLS["multi_system"]},
}

SESSION_RULES.update({("loso", p): (
    r"HDFS: one session per block (every raw line naming blk_-?\d+); BGL: non-overlapping "
    f"windows of {LOSO_BGL_WINDOW} raw lines of bgl_raw_sample.log.gz (label column removed; "
    "anomalous when a window holds an alert line); each system templated by its own "
    "DrainTemplater (loghub preset) fitted without labels on its sessions outside the target's "
    "test part (source: all of them; target: its support pool)") for p in PROTOCOLS["loso"]})

#: Sizes ``--quick`` caps each part at (sessions); subsampling is seeded.
QUICK_CAPS = {
    ("bgl_seq", "balanced"): {"train": 20_000, "test_per_class": 5_000},
    ("bgl_seq", "supervised"): {"total": 20_000},
    ("bgl_seq", "mlad_balanced"): {"train": 20_000, "test_per_class": 5_000},
    # per system, before the parts are combined (fused training: up to 3 x train)
    **{("multi_system", p): {"train": 10_000, "test_per_class": 2_500}
       for p in PROTOCOLS["multi_system"]},
    **{("loso", p): {"per_system": 1500} for p in PROTOCOLS["loso"]},
}


#: ``DrainTemplater`` parameters for the datasets whose sessions are raw lines
#: (any other dataset's sessions are template strings already). ``thunderbird_2k``
#: and ``bgl_raw`` take the loghub ``Thunderbird`` and ``BGL`` presets without their
#: ``<Label>`` field: the label column is removed from the lines, so no model reads
#: the answer.
TEMPLATERS = {
    "hdfs_raw": {"log_format": "HDFS"},
    "thunderbird_2k": without_label_field("Thunderbird"),
    "bgl_raw": without_label_field("BGL"),
}

BGL_TRAIN_WINDOW = 20


@dataclass
class Split:
    """One seeded train/test split of one dataset under one protocol.

    ``X_train``/``y_train`` hold every training session (anomalies included
    where the protocol has them); the harness fits detectors on the normal
    ones only. ``info`` is copied into every result row. ``test_index``, when
    the protocol keeps one, gives each test session's position in the loaded
    dataset, so an alert can be traced back to its session id and raw lines;
    ``train_index`` does the same for the training sessions (``multi_system``:
    positions in the systems' sessions concatenated in :data:`MULTI_SYSTEMS`
    order).
    """

    dataset: str
    protocol: str
    X_train: list
    y_train: np.ndarray
    X_test: list
    y_test: np.ndarray
    info: dict = field(default_factory=dict)
    test_index: np.ndarray | None = None
    train_index: np.ndarray | None = None


def default_data_dir():
    """``$SKLOG_SHARED_DATA``, else ``../shared/data`` next to the repository, if present."""
    env = os.environ.get("SKLOG_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "data")
    candidates.append(Path.cwd().parent / "shared" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    return None


class DataUnavailable(RuntimeError):
    """The files a dataset needs are neither in ``--data-dir`` nor bundled."""


def _need(data_dir, *parts):
    if data_dir is None:
        raise DataUnavailable(
            f"dataset needs {'/'.join(parts)}: pass --data-dir (no data directory found)"
        )
    path = Path(data_dir).joinpath(*parts)
    if not path.is_file():
        raise DataUnavailable(f"missing data file {path}")
    return path


#: Where a dataset may come from (``--source``): ``auto`` takes ``--data-dir`` when it
#: has the files, else the bundled sample; ``fetch`` downloads the full public log.
SOURCES = ("auto", "data-dir", "bundled", "fetch")


def _load_hdfs_raw(data_dir, source="auto"):
    from ..datasets import read_hdfs_raw

    if source == "fetch":
        return _fetch_hdfs_v1()
    in_dir = data_dir is not None and (Path(data_dir) / "hdfs" / "hdfs_raw_sample.log.gz").is_file()
    if source == "data-dir" or (source == "auto" and in_dir):
        bunch = read_hdfs_raw(
            _need(data_dir, "hdfs", "hdfs_raw_sample.log.gz"),
            _need(data_dir, "hdfs", "hdfs_raw_sample_labels.csv"),
        )
        return {"X": bunch.data, "y": np.asarray(bunch.target),
                "source": str(Path(data_dir) / "hdfs" / "hdfs_raw_sample.log.gz")}
    from ..datasets import load_hdfs_sample

    bunch = load_hdfs_sample()
    return {"X": list(bunch.data), "y": np.asarray(bunch.target),
            "source": "sklog.datasets.load_hdfs_sample()"}


def _fetch_hdfs_v1():
    """The full loghub HDFS_v1 log (11 M lines; downloaded once, cached, verified)."""
    from ..datasets import fetch_loghub, read_hdfs_raw

    bunch = fetch_loghub("HDFS_v1")
    root = Path(bunch.path)
    log = next((root / f for f in bunch.files if Path(f).name == "HDFS.log"), None)
    labels = next((root / f for f in bunch.files if Path(f).name == "anomaly_label.csv"), None)
    if log is None or labels is None:
        raise DataUnavailable(f"HDFS.log or anomaly_label.csv missing from {root}")
    data = read_hdfs_raw(log, labels)
    return {"X": data.data, "y": np.asarray(data.target), "source": f"fetch_loghub: {log}"}


def _only_data_dir(loader):
    def load(data_dir, source="auto"):
        if source in ("bundled", "fetch"):
            raise DataUnavailable(f"no {source} source for this dataset: use --data-dir")
        return loader(data_dir)

    return load


def _load_hdfs_deeplog(data_dir):
    from ..datasets import read_id_sequences, read_template_table

    templates = read_template_table(_need(data_dir, "hdfs", "HDFS_templates.csv"))
    normal = read_id_sequences(_need(data_dir, "hdfs", "deeplog_normal.txt.gz"), templates)
    abnormal = read_id_sequences(_need(data_dir, "hdfs", "deeplog_abnormal.txt.gz"), templates)
    y = np.array([0] * len(normal) + [1] * len(abnormal), dtype=np.int64)
    return {"X": normal + abnormal, "y": y, "source": str(Path(data_dir) / "hdfs")}


def _load_bgl_seq(data_dir):
    from ..datasets import read_id_sequences, read_template_table

    templates = read_template_table(_need(data_dir, "bgl", "templates.csv"))
    return {
        "train": read_id_sequences(_need(data_dir, "bgl", "train.txt.gz"), templates),
        "test_normal": read_id_sequences(
            _need(data_dir, "bgl", "test_normal_sample.txt.gz"), templates),
        "test_abnormal": read_id_sequences(
            _need(data_dir, "bgl", "test_abnormal.txt.gz"), templates),
        "source": str(Path(data_dir) / "bgl"),
    }


def _load_thunderbird_2k(data_dir, source="auto"):
    """Thunderbird_2k windows: from ``--data-dir``'s loghub/ when there, else the bundled copy."""
    from ..preprocessing import (
        bgl_line_labels,
        labels_from_line_labels,
        read_lines,
        strip_label_column,
        windows_from_lines,
    )

    if source == "fetch":
        raise DataUnavailable("no fetch source for thunderbird_2k: use --data-dir or --source "
                              "bundled")
    folder = Path(data_dir) / "loghub" / "Thunderbird" if data_dir is not None else None
    found = [folder / name for name in ("Thunderbird_2k.log", "Thunderbird_2k.log.gz")
             if folder is not None and (folder / name).is_file()]
    if source == "data-dir" or (source == "auto" and found):
        path = found[0] if found else _need(data_dir, "loghub", "Thunderbird", "Thunderbird_2k.log")
        labeled, where = read_lines(path), str(path)
    else:
        from ..datasets import load_loghub_2k

        labeled = load_loghub_2k("Thunderbird").lines
        where = 'sklog.datasets.load_loghub_2k("Thunderbird")'
    X, indices = windows_from_lines(strip_label_column(labeled), size=THUNDERBIRD_WINDOW)
    y = labels_from_line_labels(bgl_line_labels(labeled), indices)
    return {"X": X, "y": y, "line_indices": indices, "source": where}


def _load_bgl_raw(data_dir):
    """The raw BGL sample: lines without the label column, line labels, and each line's day."""
    from ..preprocessing import bgl_line_labels, read_lines, strip_label_column

    path = _need(data_dir, "bgl", "bgl_raw_sample.log.gz")
    labeled = read_lines(path)
    lines = strip_label_column(labeled)
    # column 3 of the raw line (2 once the label is gone) is the day, e.g. 2005.06.03
    days = np.array([(line.split(None, 2)[1:2] or [""])[0] for line in lines])
    return {"lines": lines, "line_y": bgl_line_labels(labeled), "days": days,
            "source": str(path)}


_LOADERS = {"hdfs_raw": _load_hdfs_raw, "hdfs_deeplog": _only_data_dir(_load_hdfs_deeplog),
            "bgl_seq": _only_data_dir(_load_bgl_seq), "thunderbird_2k": _load_thunderbird_2k,
            "bgl_raw": _only_data_dir(_load_bgl_raw)}

#: datasets made of others (loaded through the cache, so each part is read once)
_COMPOSITE = {"multi_system": tuple(MULTI_SYSTEMS.values()),
              "loso": tuple(LOSO_SYSTEMS.values())}


class DatasetCache:
    """Load each dataset at most once per run (the readers are the slow part).

    ``source`` is one of :data:`SOURCES`; only ``hdfs_raw`` has a bundled
    sample and a fetchable full log, the sequence datasets need ``data_dir``.
    """

    def __init__(self, data_dir=None, source="auto"):
        self.data_dir = data_dir
        self.source = source
        self._cache = {}

    def get(self, name):
        if name not in _LOADERS and name not in _COMPOSITE:
            raise DataUnavailable(
                f"unknown dataset {name!r}; known: {sorted({*_LOADERS, *_COMPOSITE})}")
        if name not in self._cache:
            if name in _COMPOSITE:
                parts = {part: self.get(part) for part in _COMPOSITE[name]}
                # the templated sessions of each (seed, quick) are kept here: see make_split
                self._cache[name] = {"parts": parts, "per_seed": {},
                                     "source": "; ".join(p["source"] for p in parts.values())}
            else:
                self._cache[name] = _LOADERS[name](self.data_dir, self.source)
        return self._cache[name]


def _take(seq, idx):
    return [seq[i] for i in idx]


def _subsample(n, cap, rng):
    """Sorted random ``cap`` of ``range(n)`` (all of them when ``n <= cap``)."""
    if cap is None or n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def make_split(dataset, protocol, data, seed, *, quick=False):
    """Build the :class:`Split` of ``dataset`` under ``protocol`` for one seed."""
    from ..metrics import NormalOnlySplit, deduplicate_sessions, supervised_split
    from ..preprocessing import windows_from_lines

    if protocol not in PROTOCOLS.get(dataset, ()):
        raise DataUnavailable(f"dataset {dataset!r} has no protocol {protocol!r}")
    rng = np.random.RandomState(seed)
    info = {"session_rule": SESSION_RULES[(dataset, protocol)], "data_source": data["source"],
            "quick_caps": QUICK_CAPS.get((dataset, protocol)) if quick else None}

    if (dataset, protocol) == ("hdfs_raw", "natural"):
        X, y = data["X"], data["y"]
        _, test = next(NormalOnlySplit(train_size=0.8, test="natural", random_state=seed)
                       .split(X, y))
        train = np.setdiff1d(np.arange(len(X)), test)
        info["split_rule"] = ("stratified random 80/20 split of blocks "
                              "(NormalOnlySplit(train_size=0.8, test='natural'))")
        split = Split(dataset, protocol, _take(X, train), y[train], _take(X, test), y[test], info,
                      test_index=test)

    elif (dataset, protocol) == ("hdfs_deeplog", "supervised"):
        X, y = data["X"], data["y"]
        train, test = supervised_split(X, y, test_size=0.1, deduplicate=True, random_state=seed)
        info["split_rule"] = "deduplicate (session, label), then stratified 90/10"
        split = Split(dataset, protocol, _take(X, train), y[train], _take(X, test), y[test], info,
                      test_index=test)

    elif (dataset, protocol) == ("bgl_seq", "supervised"):
        X = data["test_normal"] + data["test_abnormal"]
        y = np.array([0] * len(data["test_normal"]) + [1] * len(data["test_abnormal"]))
        # de-duplicate first, so a quick subsample is drawn from the same distinct sessions
        keep = deduplicate_sessions(X, y)
        cap = QUICK_CAPS[(dataset, protocol)]["total"] if quick else None
        keep = keep[_subsample(len(keep), cap, rng)]
        X, y = _take(X, keep), y[keep]
        train, test = supervised_split(X, y, test_size=0.2, random_state=seed)
        info["split_rule"] = ("test_normal_sample (0) + test_abnormal (1), deduplicate "
                              "(session, label)"
                              + (", seeded random subsample" if quick else "")
                              + ", then stratified 80/20")
        split = Split(dataset, protocol, _take(X, train), y[train], _take(X, test), y[test], info)

    elif (dataset, protocol) == ("bgl_seq", "balanced"):
        caps = QUICK_CAPS[(dataset, protocol)] if quick else {}
        X_train = [w for line in data["train"]
                   for w in windows_from_lines(line, size=BGL_TRAIN_WINDOW)[0]]
        X_train = _take(X_train, _subsample(len(X_train), caps.get("train"), rng))
        abnormal, normal = data["test_abnormal"], data["test_normal"]
        abnormal_idx = _subsample(len(abnormal), caps.get("test_per_class"), rng)
        k = min(len(abnormal_idx), len(normal))
        normal_idx = np.sort(rng.choice(len(normal), size=k, replace=False))
        X_test = _take(abnormal, abnormal_idx) + _take(normal, normal_idx)
        y_test = np.array([1] * len(abnormal_idx) + [0] * k, dtype=np.int64)
        info["split_rule"] = ("train: every normal train.txt window; test: every test_abnormal "
                              "window + as many seeded random test_normal_sample windows"
                              + (" (quick: seeded subsample)" if quick else ""))
        split = Split(dataset, protocol, X_train, np.zeros(len(X_train), dtype=np.int64),
                      X_test, y_test, info)
    elif dataset == "bgl_raw":
        split = _bgl_raw_split(protocol, data, info, seed)

    elif protocol == "mlad_balanced":
        X, y = _labeled_sessions(dataset, data)
        train, test = _mlad_parts(y, seed, QUICK_CAPS.get((dataset, protocol)) if quick else None)
        info["split_rule"] = _MLAD_RULE.format(seed=seed) + (_MLAD_QUICK if quick else "")
        split = _need_test_anomalies(Split(dataset, protocol, _take(X, train), y[train],
                                           _take(X, test), y[test], info, test_index=test,
                                           train_index=train))

    elif dataset == "multi_system":
        systems = _multi_system_data(data, seed, quick)
        train_systems, system = multi_system_roles(protocol)
        train = np.sort(np.concatenate([systems["parts"][s][0] for s in train_systems]))
        test = systems["parts"][system][1]
        X, y = systems["X"], systems["y"]
        info.update(system=system, train_systems=list(train_systems),
                    templating=dict(systems["templating"]))
        info["split_rule"] = (
            f"each system's mlad_balanced split ({_MLAD_RULE.format(seed=seed)}"
            + (_MLAD_QUICK if quick else "") + f"); train: the training part of "
            f"{' + '.join(train_systems)}; test: the test part of {system}")
        split = _need_test_anomalies(Split(dataset, protocol, _take(X, train), y[train],
                                           _take(X, test), y[test], info, test_index=test,
                                           train_index=train))

    elif dataset == "loso":
        split = _loso_split(protocol, data, seed, quick, info)

    else:  # pragma: no cover - PROTOCOLS and the branches above agree
        raise DataUnavailable(f"no builder for {(dataset, protocol)}")

    return _record_sizes(split)


def _bgl_raw_split(protocol, data, info, seed):
    """LogLead's chronological BGL split (June-July lines train, August lines test), or random."""
    from ..metrics import NormalOnlySplit
    from ..preprocessing import labels_from_line_labels, windows_from_lines

    lines, line_y, days = data["lines"], data["line_y"], data["days"]
    if protocol == "random":
        X, indices = windows_from_lines(lines, size=BGL_RAW_WINDOW)
        y = np.asarray(labels_from_line_labels(line_y, indices))
        _, test = next(NormalOnlySplit(train_size=0.8, test="natural", random_state=seed)
                       .split(X, y))
        train = np.setdiff1d(np.arange(len(X)), test)
        info["split_rule"] = ("stratified random 80/20 split of the windows "
                              "(NormalOnlySplit(train_size=0.8, test='natural'))")
        return _need_test_anomalies(Split("bgl_raw", protocol, _take(X, train), y[train],
                                          _take(X, test), y[test], info))
    test_part = days >= BGL_RAW_TEST_FROM
    if not (np.all(np.diff(test_part.astype(np.int8)) >= 0) and test_part.any()
            and not test_part.all()):
        raise DataUnavailable(f"bgl_raw: the lines are not sorted by day around "
                              f"{BGL_RAW_TEST_FROM}, or one part is empty")
    cut = int(np.argmax(test_part))
    parts = (np.arange(cut), np.arange(cut, len(lines)))
    if protocol == "chronological_lines":
        (train, test) = parts
        X_train, y_train = [[lines[i]] for i in train], line_y[train]
        X_test, y_test = [[lines[i]] for i in test], line_y[test]
        train_index, test_index = train, test
    else:
        sessions = []
        for part in parts:
            X, indices = windows_from_lines([lines[i] for i in part], size=BGL_RAW_WINDOW)
            sessions.append((X, labels_from_line_labels(line_y[part], indices)))
        (X_train, y_train), (X_test, y_test) = sessions
        train_index = test_index = None
    info["split_rule"] = (
        f"chronological, same for every seed: train = lines dated before {BGL_RAW_TEST_FROM} "
        f"(June-July 2005, lines 1-{cut}), test = the later lines (August 2005); no "
        "de-duplication")
    return _need_test_anomalies(Split("bgl_raw", protocol, X_train, np.asarray(y_train),
                                      X_test, np.asarray(y_test), info, test_index=test_index,
                                      train_index=train_index))


_MLAD_RULE = ("MLAD protocol, balanced_normal_split(y, seed {seed}): test = every anomalous "
              "session + as many seeded random normal sessions (1:1), train = every other "
              "normal session; no de-duplication")
_MLAD_QUICK = "; quick: seeded subsample of the training part and of each test class"


def _labeled_sessions(dataset, data):
    """``(X, y)``: the labeled sessions a dataset's ``mlad_balanced`` split draws from."""
    if dataset == "bgl_seq":
        normal, abnormal = data["test_normal"], data["test_abnormal"]
        return normal + abnormal, np.array([0] * len(normal) + [1] * len(abnormal),
                                           dtype=np.int64)
    return data["X"], np.asarray(data["y"], dtype=np.int64)


def _mlad_parts(y, seed, caps=None):
    """Training and test indices of ``mlad_balanced`` for one seed, ``caps`` applied 1:1."""
    from ..metrics import balanced_normal_split

    rng = np.random.RandomState(seed)
    train, test = balanced_normal_split(y, random_state=rng)
    if caps:
        train = train[_subsample(len(train), caps.get("train"), rng)]
        abnormal, normal = test[y[test] == 1], test[y[test] != 1]
        cap = caps.get("test_per_class")
        test = np.sort(np.concatenate([abnormal[_subsample(len(abnormal), cap, rng)],
                                       normal[_subsample(len(normal), cap, rng)]]))
    return train, test


def _need_test_anomalies(split):
    if not np.any(np.asarray(split.y_test) == 1):
        hint = (" (loghub's Thunderbird_2k.log has no alert line: column 1 is '-' on all "
                "2,000 lines)" if "thunderbird" in f"{split.dataset} {split.info.get('system')}"
                else "")
        raise DataUnavailable(f"{split.dataset}/{split.protocol}: the test part holds no "
                              f"anomalous session, so the protocol cannot be scored{hint}")
    return split


def multi_system_roles(protocol):
    """``(train systems, test system)`` of a ``multi_system`` protocol.

    Examples
    --------
    >>> from sklog.benchmarks._data import multi_system_roles
    >>> multi_system_roles("transfer:hdfs->bgl")
    (('hdfs',), 'bgl')
    >>> multi_system_roles("fused:bgl")
    (('hdfs', 'bgl', 'thunderbird'), 'bgl')
    """
    if protocol not in PROTOCOLS["multi_system"]:
        raise DataUnavailable(f"dataset 'multi_system' has no protocol {protocol!r}")
    if protocol in MULTI_SYSTEMS:
        return (protocol,), protocol
    if protocol.startswith("fused:"):
        return tuple(MULTI_SYSTEMS), protocol[len("fused:"):]
    src, dst = protocol[len("transfer:"):].split("->")
    return (src,), dst


def _multi_system_data(data, seed, quick):
    """The templated sessions of every system and their parts, built once per (seed, quick)."""
    key = (seed, bool(quick))
    if key not in data["per_seed"]:
        data["per_seed"][key] = _template_systems(data["parts"], seed, quick)
    return data["per_seed"][key]


def _template_systems(parts, seed, quick):
    from ..preprocessing import DrainTemplater

    caps = QUICK_CAPS[("multi_system", "hdfs")] if quick else None
    X_all, y_all, system_all, split_parts, templating = [], [], [], {}, {}
    for system, dataset in MULTI_SYSTEMS.items():
        X, y = _labeled_sessions(dataset, parts[dataset])
        train, test = _mlad_parts(y, seed, caps)
        if dataset in TEMPLATERS:
            templater = DrainTemplater(**TEMPLATERS[dataset]).fit(_take(X, train))
            X = templater.transform(X)
            templating[system] = (
                f"DrainTemplater({', '.join(f'{k}={v!r}' for k, v in TEMPLATERS[dataset].items())})"
                f" fitted on the {len(train)} {system} training sessions only (unsupervised): "
                f"{len(templater.templates_)} templates")
        else:
            templating[system] = "given template text"
        offset = len(X_all)
        X_all.extend(X)
        y_all.append(y)
        system_all.extend([system] * len(X))
        split_parts[system] = (train + offset, test + offset)
    return {"X": X_all, "y": np.concatenate(y_all), "system": np.array(system_all),
            "parts": split_parts, "templating": templating}


def _record_sizes(split):
    split.info.update(
        n_train=len(split.X_train), n_train_anomalies=int(np.sum(split.y_train == 1)),
        n_test=len(split.X_test), n_test_anomalies=int(np.sum(split.y_test == 1)),
    )
    return split


#: Share of the training part that ``--validation`` scores (the rest is fitted on).
VALIDATION_SIZE = 0.25


def validation_split(split, seed):
    """Model selection without the test part: re-split ``split``'s *training* part.

    A seeded stratified :data:`VALIDATION_SIZE` of the training sessions plays
    the test part; the rows are fitted on the rest under the usual rule. The
    real test part is dropped, so defaults and settings compared this way
    never see it. Protocols whose training part holds no labeled anomaly
    (``bgl_seq``/``balanced``) cannot be validated and raise.
    """
    from sklearn.model_selection import train_test_split

    y = np.asarray(split.y_train)
    if not np.any(y == 1):
        raise DataUnavailable(
            f"{split.dataset}/{split.protocol}: the training part holds no labeled anomaly, "
            "so it cannot serve as a validation set")
    from ..meta import UNLABELLED

    labelled = np.flatnonzero(y != UNLABELLED)  # loso's "+unlabelled" rows: fitted only
    fit, valid = train_test_split(labelled, test_size=VALIDATION_SIZE, stratify=y[labelled],
                                  random_state=seed)
    fit, valid = np.sort(np.r_[fit, np.setdiff1d(np.arange(len(y)), labelled)]), np.sort(valid)
    info = dict(split.info)
    info["split_rule"] = (
        f"VALIDATION (test part unused): {info.get('split_rule')}; then the training part "
        f"re-split stratified {1 - VALIDATION_SIZE:.0%}/{VALIDATION_SIZE:.0%} (seed {seed}), "
        "rows fitted on the first and scored on the second")
    return _record_sizes(Split(split.dataset, split.protocol, _take(split.X_train, fit), y[fit],
                               _take(split.X_train, valid), y[valid], info))


# -- leave-one-system-out with k target shots (issue #10) -------------------------------------

def loso_sessions(parts):
    """``{system: (X, y)}``: the labelled raw-line sessions of every :data:`LOSO_SYSTEMS`."""
    from ..preprocessing import labels_from_line_labels, windows_from_lines

    out = {}
    for system, dataset in LOSO_SYSTEMS.items():
        data = parts[dataset]
        if dataset == "bgl_raw":
            X, indices = windows_from_lines(data["lines"], size=LOSO_BGL_WINDOW)
            y = labels_from_line_labels(data["line_y"], indices)
        else:
            X, y = data["X"], data["y"]
        out[system] = (list(X), np.asarray(y, dtype=np.int64))
    return out


def _stratified_cap(y, cap, rng):
    """Sorted indices of a seeded stratified ``cap`` of ``y`` (all rows when ``len(y) <= cap``)."""
    from sklearn.model_selection import train_test_split

    if cap is None or len(y) <= cap:
        return np.arange(len(y))
    keep, _ = train_test_split(np.arange(len(y)), train_size=cap, stratify=y,
                               random_state=rng.randint(np.iinfo(np.int32).max))
    return np.sort(keep)


def _loso_templated(data, seed, quick, target):
    """Templated, capped sessions of every system with the target's pool and test part.

    Built once per (seed, quick, target): every ``k`` shares it, so every ``k`` of
    a seed is scored on the same test sessions.
    """
    from ..metrics import FewShotSplit
    from ..preprocessing import DrainTemplater

    key = ("loso", seed, bool(quick), target)
    if key in data["per_seed"]:
        return data["per_seed"][key]
    if "sessions" not in data:
        data["sessions"] = loso_sessions(data["parts"])
    cap = QUICK_CAPS[("loso", loso_protocol(target, 0))]["per_system"] if quick \
        else LOSO_MAX_SESSIONS
    rng = np.random.RandomState(seed)
    X_all, y_all, groups = [], [], []
    for system, (X, y) in data["sessions"].items():
        keep = _stratified_cap(y, cap, rng)
        X_all.extend(X[i] for i in keep)
        y_all.append(y[keep])
        groups.extend([system] * len(keep))
    y_all, groups = np.concatenate(y_all), np.asarray(groups)
    pool, test = FewShotSplit(target, 0, pool_size=LOSO_POOL_SIZE,
                              random_state=seed).pool_and_test(y_all, groups)
    templated, templating = [None] * len(X_all), {}
    test_rows = set(test.tolist())
    for system, dataset in LOSO_SYSTEMS.items():
        rows = np.flatnonzero(groups == system)
        fit_rows = [i for i in rows if i not in test_rows]  # the target's test part: never
        templater = DrainTemplater(**TEMPLATERS[dataset]).fit([X_all[i] for i in fit_rows])
        out = templater.transform([X_all[i] for i in rows])
        for i, session in zip(rows, out, strict=True):
            templated[i] = session
        templating[system] = (
            f"DrainTemplater({', '.join(f'{k}={v!r}' for k, v in TEMPLATERS[dataset].items())}) "
            f"fitted without labels on {len(fit_rows)} {system} sessions "
            f"({'its support pool' if system == target else 'all of them'}): "
            f"{len(templater.templates_)} templates")
    built = {"X": templated, "y": y_all, "groups": groups, "test": test, "pool": pool,
             "templating": templating, "cap": cap}
    data["per_seed"][key] = built
    return built


def _loso_split(protocol, data, seed, quick, info):
    """Train = source sessions + ``k`` anomalous and ``k`` normal target sessions; test = the
    target's test part. Sessions are :class:`~sklog.meta.SystemSession` objects (template
    strings that know their system), so an adapter tells the support from the sources."""
    from ..meta import UNLABELLED, tag_sessions
    from ..metrics import FewShotSplit

    sources, target, k = loso_roles(protocol)
    built = _loso_templated(data, seed, quick, target)
    X, y, groups = built["X"], built["y"], built["groups"]
    if k == LOSO_CEILING:
        source, support, test = np.zeros(0, dtype=np.int64), built["pool"], built["test"]
    else:
        source, support, test = FewShotSplit(target, k, pool_size=LOSO_POOL_SIZE,
                                             random_state=seed).split(y, groups)
    assert np.array_equal(test, built["test"])  # the same test part for every k
    train = np.concatenate([source, support])
    y_train = y[train]
    unlabelled = np.zeros(0, dtype=np.int64)
    if protocol.endswith(LOSO_UNLABELLED):
        unlabelled = np.setdiff1d(built["pool"], support)
        train = np.concatenate([train, unlabelled])
        y_train = np.r_[y_train, np.full(len(unlabelled), UNLABELLED)]
    X_train = [s for i in train for s in tag_sessions([X[i]], groups[i])]
    X_test = tag_sessions(_take(X, test), target)
    info.update(system=target, target=target, train_systems=list(sources), k=k,
                n_support=len(support), n_source=len(source), n_unlabelled=len(unlabelled),
                templating=dict(built["templating"]))
    if k == LOSO_CEILING:
        info["split_rule"] = (
            f"ceiling, target {target}: the target capped at a seeded stratified "
            f"{built['cap']} sessions, split stratified {LOSO_POOL_SIZE:.0%} support pool / "
            f"{1 - LOSO_POOL_SIZE:.0%} test (seed {seed}, the test part of every k); train = "
            "the whole pool with its labels, no source system; test = the target's test part")
        return _need_test_anomalies(Split("loso", protocol, X_train, y[train], X_test, y[test],
                                          info, test_index=test, train_index=train))
    info["split_rule"] = (
        f"leave-one-system-out, target {target}, k={k}: each system capped at a seeded "
        f"stratified {built['cap']} sessions; the target split stratified "
        f"{LOSO_POOL_SIZE:.0%} support pool / {1 - LOSO_POOL_SIZE:.0%} test (seed {seed}, the "
        f"same test part for every k); train = every {'+'.join(sources)} session + {k} "
        f"anomalous and {k} normal sessions of the pool (FewShotSplit)"
        + (f" + the pool's other {len(unlabelled)} sessions without their labels (y = "
           f"{UNLABELLED})" if len(unlabelled) else "")
        + "; test = the target's test part (natural anomaly ratio)")
    return _need_test_anomalies(Split("loso", protocol, X_train, y_train, X_test, y[test], info,
                                      test_index=test, train_index=train))
