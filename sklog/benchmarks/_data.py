"""Benchmark datasets and protocols: every (dataset, protocol) pair becomes one :class:`Split`.

The split is computed here, once per seed, and the harness hands only its
training part to an estimator; the test part is used once, for scoring.
Names and semantics follow the benchmark contract (``hdfs_raw``,
``hdfs_deeplog``, ``bgl_seq``; ``natural``, ``supervised``, ``balanced``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: dataset -> protocols it supports
PROTOCOLS = {
    "hdfs_raw": ("natural",),
    "hdfs_deeplog": ("supervised",),
    "bgl_seq": ("supervised", "balanced"),
}

#: How sessions are cut, per dataset and protocol (recorded in every row).
SESSION_RULES = {
    ("hdfs_raw", "natural"): r"one session per HDFS block: every raw line naming blk_-?\d+",
    ("hdfs_deeplog", "supervised"): "one session per HDFS block (DeepLog event-id sequences)",
    ("bgl_seq", "supervised"): "given BGL windows (~21 events) of test_normal_sample/test_abnormal",
    ("bgl_seq", "balanced"): (
        "train: non-overlapping windows of 20 events cut from each train.txt line; "
        "test: given BGL windows (~21 events)"
    ),
}

#: Sizes ``--quick`` caps each part at (sessions); subsampling is seeded.
QUICK_CAPS = {
    ("bgl_seq", "balanced"): {"train": 20_000, "test_per_class": 5_000},
    ("bgl_seq", "supervised"): {"total": 20_000},
}

BGL_TRAIN_WINDOW = 20


@dataclass
class Split:
    """One seeded train/test split of one dataset under one protocol.

    ``X_train``/``y_train`` hold every training session (anomalies included
    where the protocol has them); the harness fits detectors on the normal
    ones only. ``info`` is copied into every result row. ``test_index``, when
    the protocol keeps one, gives each test session's position in the loaded
    dataset, so an alert can be traced back to its session id and raw lines.
    """

    dataset: str
    protocol: str
    X_train: list
    y_train: np.ndarray
    X_test: list
    y_test: np.ndarray
    info: dict = field(default_factory=dict)
    test_index: np.ndarray | None = None


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


_LOADERS = {"hdfs_raw": _load_hdfs_raw, "hdfs_deeplog": _only_data_dir(_load_hdfs_deeplog),
            "bgl_seq": _only_data_dir(_load_bgl_seq)}


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
        if name not in _LOADERS:
            raise DataUnavailable(f"unknown dataset {name!r}; known: {sorted(_LOADERS)}")
        if name not in self._cache:
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
    else:  # pragma: no cover - PROTOCOLS and the branches above agree
        raise DataUnavailable(f"no builder for {(dataset, protocol)}")

    return _record_sizes(split)


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
    fit, valid = train_test_split(np.arange(len(y)), test_size=VALIDATION_SIZE, stratify=y,
                                  random_state=seed)
    fit, valid = np.sort(fit), np.sort(valid)
    info = dict(split.info)
    info["split_rule"] = (
        f"VALIDATION (test part unused): {info.get('split_rule')}; then the training part "
        f"re-split stratified {1 - VALIDATION_SIZE:.0%}/{VALIDATION_SIZE:.0%} (seed {seed}), "
        "rows fitted on the first and scored on the second")
    return _record_sizes(Split(split.dataset, split.protocol, _take(split.X_train, fit), y[fit],
                               _take(split.X_train, valid), y[valid], info))
