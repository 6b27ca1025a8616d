"""The benchmark harness: run registered cells, record one row each, write JSON and Markdown.

The harness owns the fitting rule, so no method can cheat by accident:
detectors are fitted on the *normal training* sessions only, classifiers on
all training sessions with their labels, and the test part is touched once,
after ``fit``, to score. Thresholds and model selection therefore only ever
see training data.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import importlib
import json
import math
import os
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from . import _registry
from ._data import (
    PROTOCOLS,
    SOURCES,
    DatasetCache,
    default_data_dir,
    make_split,
    validation_split,
)

#: Misclassified scored sessions listed per row (positions in the scored part).
MAX_MISCLASSIFIED_RECORDED = 200

METRICS = ("precision", "recall", "f1", "pr_auc", "roc_auc")
MEMORY_MEASURE = "peak resident set size of the process during the cell (Linux VmHWM, reset "
MEMORY_MEASURE += "before each cell via /proc/self/clear_refs)"
_RUSAGE_MEASURE = "max resident set size of the process so far (getrusage ru_maxrss)"


def load_cells():
    """Import every module of :mod:`sklog.benchmarks.cells` and return the benchmark cells.

    The registered cells, then a default row for every method of
    :data:`sklog.methods.METHODS` that none of them measures
    (:func:`~sklog.benchmarks._registry.default_cells`). A cells module that
    fails to import raises ``ImportError`` naming it: a broken row must not
    disappear from the table unnoticed.
    """
    from . import cells

    for info in pkgutil.iter_modules(cells.__path__, cells.__name__ + "."):
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            raise ImportError(f"benchmark cells module {info.name} failed to import: "
                              f"{type(exc).__name__}: {exc}") from exc
    # a module re-imported in the same process registers nothing twice
    unique = {}
    for cell in _registry.CELLS:
        unique.setdefault((cell.dataset, cell.protocol, cell.method), cell)
    registered = list(unique.values())
    return registered + _registry.default_cells(registered)


def _matches(value, patterns, known=()):
    """Whether ``value`` passes one of ``patterns`` (see :func:`select_cells`)."""
    if not patterns:
        return True
    low = value.lower()
    for p in patterns:
        if any(ch in p for ch in "*?["):
            if fnmatch.fnmatchcase(low, p):
                return True
        elif p in known:
            if p == low:
                return True
        elif p in low:
            return True
    return False


def _patterns(text):
    return [p.strip().lower() for p in (text or "").split(",") if p.strip()]


def select_cells(cells, *, datasets=None, protocols=None, methods=None, quick=False):
    """Filter cells by comma-separated patterns (case-insensitive).

    A pattern with ``*``, ``?`` or ``[`` is a glob (``transfer:*``,
    ``*hdfs*``). Otherwise a dataset or protocol pattern that is exactly a
    known name (of :data:`~sklog.benchmarks._data.PROTOCOLS` or of a cell)
    selects that name only, so ``balanced`` is not ``mlad_balanced`` and
    ``hdfs`` (a ``multi_system`` protocol) is not ``fused:hdfs``; any other
    pattern, and every method pattern, selects the names that contain it
    (``mlad``, ``fused``, ``transfer``, ``bgl``; ``alogscan`` selects every
    ALogSCAN row).
    """
    ds, pr, me = _patterns(datasets), _patterns(protocols), _patterns(methods)
    known_datasets = {d.lower() for d in PROTOCOLS} | {c.dataset.lower() for c in cells}
    known_protocols = ({p.lower() for names in PROTOCOLS.values() for p in names}
                       | {c.protocol.lower() for c in cells})
    return [c for c in cells
            if _matches(c.dataset, ds, known_datasets)
            and _matches(c.protocol, pr, known_protocols)
            and _matches(c.method, me)
            and (c.quick or not quick)]


# -- measuring --------------------------------------------------------------------------------

class _PeakMemory:
    """Peak RSS of this process over a block, in MiB (see :data:`MEMORY_MEASURE`)."""

    def __enter__(self):
        self.measure = MEMORY_MEASURE
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self._vmhwm = True
        except OSError:
            import resource

            self._vmhwm = False
            self.measure = _RUSAGE_MEASURE
            self._start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self._cuda = _cuda_reset()
        return self

    def __exit__(self, *exc):
        if self._vmhwm:
            self.peak_mb = _vmhwm_mb()
        else:
            import resource

            kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.peak_mb = kb / (1024 * 1024 if sys.platform == "darwin" else 1024)
        self.gpu_peak_mb = _cuda_peak() if self._cuda else None
        return False


def _vmhwm_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _cuda_reset():
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        return True
    return False


def _cuda_peak():
    import torch

    return torch.cuda.max_memory_allocated() / 2**20


def estimator_device(estimator):
    """The device an estimator runs on: its (or a pipeline step's) ``device`` param, resolved."""
    try:
        params = estimator.get_params(deep=True)
    except Exception:  # noqa: BLE001
        return "cpu"
    for key, value in params.items():
        if key == "device" or key.endswith("__device"):
            from ..utils import resolve_device

            return resolve_device(value)
    return "cpu"


def training_data(estimator, split):
    """What ``fit`` receives: normal training sessions (detector) or all of them (classifier)."""
    from sklearn.base import is_outlier_detector

    if is_outlier_detector(estimator):
        normal = np.flatnonzero(np.asarray(split.y_train) == 0)
        return [split.X_train[i] for i in normal], None
    return list(split.X_train), np.asarray(split.y_train)


def run_cell(cell, split, seed, *, keep=False):
    """Fit ``cell.build(seed)`` on the training part of ``split``, score the test part once.

    Decisions and scores come from one pass over the estimator
    (:func:`sklog.inspection.score_sessions`), which
    ``predict_sessions_per_second`` times. Returns the result row; with
    ``keep=True`` also the fitted estimator and the test anomaly scores (the
    demo plots them).
    """
    from sklearn.base import is_outlier_detector

    from .. import __version__
    from ..inspection import score_sessions
    from ..metrics import evaluate_predictions

    row = {"dataset": cell.dataset, "protocol": cell.protocol, "method": cell.method,
           "seed": seed, "threshold_rule": cell.threshold_rule, **split.info,
           "sklog_version": __version__}
    row.update({m: float("nan") for m in METRICS})
    row.update(fit_seconds=float("nan"), predict_sessions_per_second=float("nan"),
               peak_memory_mb=float("nan"), device="cpu", error=None)
    estimator, scores = None, None
    try:
        estimator = cell.build(seed)
        row["estimator"] = _describe(estimator)
        row["kind"] = "detector" if is_outlier_detector(estimator) else "classifier"
        row["device"] = estimator_device(estimator)
        X_fit, y_fit = training_data(estimator, split)
        row["n_fit"] = len(X_fit)
        with _PeakMemory() as mem:
            start = time.perf_counter()
            if y_fit is None:
                estimator.fit(X_fit)
            else:
                estimator.fit(X_fit, y_fit)
            row["fit_seconds"] = time.perf_counter() - start
            epochs = epoch_losses(estimator)
            if epochs is not None:
                row["epochs"] = epochs
            y_true = np.asarray(split.y_test) == 1
            start = time.perf_counter()
            y_pred, scores, _ = score_sessions(estimator, split.X_test)  # one pass
            elapsed = time.perf_counter() - start
            row["predict_sessions_per_second"] = len(split.X_test) / max(elapsed, 1e-9)
        row.update(evaluate_predictions(y_true, y_pred, scores))
        # positions in the scored part, so rows can be compared error by error
        wrong = np.flatnonzero(np.asarray(y_pred, dtype=bool) != y_true)
        row["misclassified"] = wrong[:MAX_MISCLASSIFIED_RECORDED].tolist()
        row["peak_memory_mb"] = mem.peak_mb
        row["memory_measure"] = mem.measure
        if mem.gpu_peak_mb is not None:
            row["peak_gpu_memory_mb"] = mem.gpu_peak_mb
    except Exception as exc:  # noqa: BLE001 - a failing cell is recorded, the run goes on
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc(limit=-8)
    if keep:
        return row, estimator, scores
    return row


def epoch_losses(estimator):
    """Per-epoch ``train_loss`` / ``valid_loss`` of a skorch-based estimator (a
    pipeline's last step), or ``None``: how a neural row trained, kept in the row
    so that a poor seed can be diagnosed after the run.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> epoch_losses(LogisticRegression()) is None
    True
    """
    last = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    history = getattr(getattr(last, "net_", None), "history", None)
    if history is None:
        return None
    keys = ("epoch", "train_loss", "valid_loss")
    return [{key: float(entry[key]) for key in keys if key in entry} for entry in history]


def _describe(estimator):
    text = repr(estimator)
    return " ".join(text.split())[:500]


# -- aggregating and writing ------------------------------------------------------------------

def _mean_std(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return float("nan"), float("nan")
    return float(np.mean(values)), float(np.std(values))


def summarize(rows):
    """One summary per (dataset, protocol, method): mean and std of numbers over seeds."""
    groups = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["protocol"], row["method"]), []).append(row)
    out = []
    numeric = (*METRICS, "fit_seconds", "predict_sessions_per_second", "peak_memory_mb")
    for (dataset, protocol, method), group in groups.items():
        first = group[0]
        summary = {"dataset": dataset, "protocol": protocol, "method": method,
                   "seeds": [r["seed"] for r in group], "n_runs": len(group),
                   "n_errors": sum(r["error"] is not None for r in group)}
        for key in numeric:
            summary[key], summary[key + "_std"] = _mean_std([r.get(key) for r in group])
        for key in ("device", "threshold_rule", "session_rule", "split_rule", "n_train",
                    "n_fit", "n_test", "n_test_anomalies", "data_source"):
            summary[key] = first.get(key)
        summary["error"] = next((r["error"] for r in group if r["error"]), None)
        out.append(summary)
    return out


def _fmt(value, std=None, digits=3):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = f"{value:.{digits}f}"
    if std is not None and not math.isnan(std):
        text += f" ± {std:.{digits}f}"
    return text


def markdown_table(summaries, *, with_std=False):
    """The results as a GitHub Markdown table (anomaly = positive class)."""
    head = ["dataset", "protocol", "method", "precision", "recall", "F1", "PR-AUC", "ROC-AUC",
            "fit s", "sessions/s", "peak MB", "device", "train/fit/test (anom.)",
            "threshold rule"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summaries:
        stds = {k: (s.get(k + "_std") if with_std else None) for k in (*METRICS, "fit_seconds")}
        if s.get("error") and s.get("n_errors") == s.get("n_runs"):
            metrics = [f"error: {s['error']}"[:80]] + ["-"] * 4
            timing = ["-", "-", "-"]
        else:
            metrics = [_fmt(s[m], stds[m]) for m in METRICS]
            timing = [_fmt(s["fit_seconds"], stds["fit_seconds"], 1),
                      _fmt(s["predict_sessions_per_second"], None, 0),
                      _fmt(s["peak_memory_mb"], None, 0)]
        sizes = (f"{s.get('n_train')}/{s.get('n_fit')}/{s.get('n_test')} "
                 f"({s.get('n_test_anomalies')})")
        cells = [s["dataset"], s["protocol"], s["method"], *metrics, *timing,
                 str(s.get("device")), sizes, str(s.get("threshold_rule") or "-")]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _clean(value):
    """NaN is not JSON: write ``null`` instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def environment():
    """What the numbers were measured on."""
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "numpy": np.__version__}
    try:
        import sklearn

        info["scikit-learn"] = sklearn.__version__
    except ImportError:  # pragma: no cover
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    info["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS")
    return info


def write_results(rows, out_dir, meta):
    """Write ``results.json`` (every run and the summary) and ``results.md``; return both paths."""
    from .. import __version__

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = summarize(rows)
    meta = {"sklog_version": __version__, **meta, "environment": environment(),
            "metrics": "anomaly is the positive class; PR-AUC = average precision"}
    json_path = out_dir / "results.json"
    with open(json_path, "w") as fh:
        json.dump(_clean({"meta": meta, "summary": summaries, "rows": rows}), fh, indent=2,
                  default=_json_default)
    md_path = out_dir / "results.md"
    repeat = max((s["n_runs"] for s in summaries), default=1)
    with open(md_path, "w") as fh:
        title = "quick" if meta.get("quick") else "full"
        if meta.get("evaluated_on") == "validation":
            title += "; VALIDATION split of the training part, not the test part"
        fh.write(f"# sklog benchmark ({title})\n\n")
        fh.write(f"sklog {__version__}; seeds {meta.get('seeds')}; "
                 f"{'mean ± std over seeds; ' if repeat > 1 else ''}"
                 "anomaly = positive class; PR-AUC = average precision; "
                 f"peak MB = {MEMORY_MEASURE}.\n\n")
        fh.write(markdown_table(summaries, with_std=repeat > 1))
        rules = {(s["dataset"], s["protocol"]): (s.get("session_rule"), s.get("split_rule"))
                 for s in summaries}
        if rules:
            fh.write("\n| dataset | protocol | sessions | split |\n|---|---|---|---|\n")
            for (dataset, protocol), (session, split) in rules.items():
                fh.write(f"| {dataset} | {protocol} | {session} | {split} |\n")
    return json_path, md_path


# -- running ----------------------------------------------------------------------------------

def run(cells, *, data_dir=None, quick=False, seeds=(0,), progress=None, cache=None,
        source="auto", validation=False):
    """Run every cell for every seed; datasets and splits are built once and shared.

    ``validation=True`` scores every row on a held-out part of the *training*
    part instead of the test part (:func:`validation_split`): the way to compare
    settings and choose defaults.
    """
    progress = progress or (lambda msg: print(msg, flush=True))
    cache = cache or DatasetCache(data_dir, source)
    rows = []
    order = sorted(cells, key=lambda c: (c.dataset, c.protocol))
    total = len(order) * len(seeds)
    done = 0
    for seed in seeds:
        splits = {}
        for cell in order:
            done += 1
            key = (cell.dataset, cell.protocol)
            if key not in splits:
                try:
                    splits[key] = make_split(cell.dataset, cell.protocol, cache.get(cell.dataset),
                                             seed, quick=quick)
                    if validation:
                        splits[key] = validation_split(splits[key], seed)
                except Exception as exc:  # noqa: BLE001 - missing data: rows record it
                    splits[key] = exc
            split = splits[key]
            if isinstance(split, Exception):
                row = {"dataset": cell.dataset, "protocol": cell.protocol, "method": cell.method,
                       "seed": seed, "threshold_rule": cell.threshold_rule,
                       "error": f"{type(split).__name__}: {split}",
                       **{m: float("nan") for m in METRICS}}
            else:
                row = run_cell(cell, split, seed)
            row["quick"] = quick
            row["evaluated_on"] = "validation" if validation else "test"
            rows.append(row)
            if row["error"]:
                status = f"ERROR {row['error']}"
            else:
                status = (f"F1 {row['f1']:.3f}  P {row['precision']:.3f}  R {row['recall']:.3f}  "
                          f"PR-AUC {_fmt(row['pr_auc'])}  fit {row['fit_seconds']:.1f}s  "
                          f"{row['predict_sessions_per_second']:.0f} sess/s  "
                          f"{row['peak_memory_mb']:.0f} MB  {row['device']}")
            progress(f"[{done}/{total}] {cell.dataset}/{cell.protocol} {cell.method} "
                     f"seed={seed}: {status}")
    return rows


def build_parser(parser=None):
    """The options of ``python -m sklog.benchmarks`` (shared with ``sklog bench``)."""
    parser = parser or argparse.ArgumentParser(
        prog="python -m sklog.benchmarks",
        description="Run the registered (dataset, protocol, method) benchmark cells and write "
                    "results.json and results.md.")
    parser.add_argument("--data-dir", default=None,
                        help="folder with hdfs/, bgl/ and loghub/ (default: ../shared/data next "
                             "to the repository when present, else bundled samples only)")
    parser.add_argument("--source", choices=SOURCES, default="auto",
                        help="where hdfs_raw comes from: auto (--data-dir if it has the sample, "
                             "else the bundled sample), data-dir, bundled (load_hdfs_sample), "
                             "or fetch (the full loghub HDFS_v1 via fetch_loghub; large); "
                             "thunderbird_2k likewise from --data-dir's loghub/ or the bundled "
                             "load_loghub_2k copy (no fetch). The sequence datasets always "
                             "come from --data-dir")
    parser.add_argument("--datasets",
                        help="comma-separated dataset filter: a full dataset name selects "
                             "that name only, a glob (*, ?) what it matches, other text every "
                             "name containing it")
    parser.add_argument("--protocols",
                        help="comma-separated protocol filter, as --datasets (e.g. "
                             "'mlad_balanced', 'fused', 'transfer:*', '*hdfs*')")
    parser.add_argument("--methods",
                        help="comma-separated method filter: a glob, or text the row label "
                             "contains (e.g. 'alogscan' selects every ALogSCAN row)")
    parser.add_argument("--quick", action="store_true",
                        help="only quick rows on seeded subsamples (< 10 min on 2 cores)")
    parser.add_argument("--validation", action="store_true",
                        help="score every row on a stratified 25%% of the training part, fitted "
                             "on the rest; the test part is not used (for choosing settings)")
    parser.add_argument("--repeat", type=_positive_int, default=1, metavar="N",
                        help="run each row with N seeds (seed, seed+1, ...); report mean ± std")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--out", default="benchmark_results",
                        help="output folder for results.json and results.md "
                             "(default benchmark_results/)")
    parser.add_argument("--list", action="store_true", help="print the registered cells and exit")
    return parser


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def main(argv=None, *, args=None):
    """Entry point of ``python -m sklog.benchmarks``; returns the exit status."""
    if args is None:
        args = build_parser().parse_args(argv)
    prog = getattr(args, "prog", "python -m sklog.benchmarks")
    cells = select_cells(load_cells(), datasets=args.datasets, protocols=args.protocols,
                         methods=args.methods, quick=args.quick)
    if args.list:
        for c in cells:
            known = c.protocol in PROTOCOLS.get(c.dataset, ())
            print(f"{c.dataset:13s} {c.protocol:11s} {'quick' if c.quick else 'full ':5s} "
                  f"{c.method}{'' if known else '  (unknown dataset/protocol)'}")
        return 0
    if not cells:
        print(f"{prog}: error: no benchmark cell matches the filters (see --list)",
              file=sys.stderr)
        return 2
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    if data_dir is not None and not Path(data_dir).is_dir():
        print(f"{prog}: error: --data-dir {data_dir} is not a directory", file=sys.stderr)
        return 2
    seeds = [args.seed + i for i in range(args.repeat)]
    print(f"sklog benchmarks: {len(cells)} cells x {len(seeds)} seed(s), "
          f"{'quick' if args.quick else 'full'}, data from {data_dir or 'bundled samples'}",
          flush=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    validation = getattr(args, "validation", False)
    rows = run(cells, data_dir=data_dir, quick=args.quick, seeds=seeds, source=args.source,
               validation=validation)
    meta = {"argv": sys.argv if argv is None else list(argv), "quick": args.quick,
            "evaluated_on": "validation" if validation else "test",
            "source": args.source,
            "seeds": seeds, "data_dir": str(data_dir) if data_dir else None,
            "started": started.isoformat(timespec="seconds"),
            "wall_seconds": (datetime.datetime.now(datetime.timezone.utc) - started)
            .total_seconds()}
    json_path, md_path = write_results(rows, args.out, meta)
    print()
    print(markdown_table(summarize(rows), with_std=len(seeds) > 1))
    print(f"wrote {json_path} and {md_path}")
    return 1 if all(r["error"] for r in rows) else 0
