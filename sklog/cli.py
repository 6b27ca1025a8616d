"""The ``sklog`` command: fit a pipeline on your own log, detect anomalies, benchmark, demo.

::

    sklog fit app.log --session-key 'req-[0-9a-f]+' --method pca --out model.joblib
    sklog fit bgl.log --window 20 --labels column1 --method logistic --out model.joblib
    sklog detect new.log --model model.joblib --format table
    sklog bench --quick
    sklog demo
    sklog datasets list

Errors (bad arguments, unreadable files, a model written by another sklog
version) print one line on stderr and exit non-zero; set ``SKLOG_DEBUG=1`` to
see the traceback instead. Model files are pickles: load only files you
trust, loading one can execute code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

#: What a model file holds; bumped when the dict layout changes.
MODEL_FORMAT = "sklog-model/1"

#: ``--method`` name -> (kind, module, attribute, keyword arguments, description).
#: Detectors learn normal behaviour (labels optional); classifiers need labels.
METHODS = {
    "pca": ("detector", "sklog.baselines", "PCADetector", {}, "PCA residual on template counts"),
    "invariants": ("detector", "sklog.baselines", "InvariantsMiner", {},
                   "invariants mining on template counts"),
    "clustering": ("detector", "sklog.baselines", "LogClustering", {},
                   "log clustering on template counts"),
    "alogscan": ("detector", "sklog.alogscan", "ALogSCAN", {"random_state": None},
                 "ALogSCAN: compression-based scoring of sessions"),
    "logistic": ("classifier", "sklog.baselines", "make_logistic_regression",
                 {"random_state": None}, "logistic regression on template counts"),
    "decision_tree": ("classifier", "sklog.baselines", "make_decision_tree",
                      {"random_state": None}, "decision tree on template counts"),
    "linear_svc": ("classifier", "sklog.baselines", "make_linear_svc", {"random_state": None},
                   "linear SVM on template counts"),
    "gradient_boosting": ("classifier", "sklog.baselines", "make_hist_gradient_boosting",
                          {"random_state": None}, "gradient boosting on template counts"),
    "siamese": ("classifier", "sklog.siamese", "SiameseClassifier", {"random_state": None},
                "Siamese LSTM"),
}


class CommandError(Exception):
    """A user-facing error: printed as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage dump)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# -- helpers ----------------------------------------------------------------------------------

def _progress(iterable=None, **kwargs):
    """A tqdm progress bar on stderr, shown only on a terminal."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=None, file=sys.stderr, dynamic_ncols=True, **kwargs)


def _check_readable(path, what="log file"):
    path = Path(path)
    if not path.exists():
        raise CommandError(f"{what} {path} does not exist")
    if path.is_dir():
        raise CommandError(f"{what} {path} is a directory")
    if not os.access(path, os.R_OK):
        raise CommandError(f"{what} {path} is not readable")
    return path


def _build_method(name, random_state):
    kind, module, attr, kwargs, _ = METHODS[name]
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise CommandError(f"method {name!r} is not available in this build ({exc})") from None
    kwargs = {k: (random_state if k == "random_state" else v) for k, v in kwargs.items()}
    return kind, factory(**kwargs)


def build_pipeline(method, *, log_format=None, random_state=0):
    """``DrainTemplater(log_format) -> method``: raw lines in, anomaly decisions out."""
    from sklearn.pipeline import Pipeline

    from .preprocessing import DrainTemplater

    kind, estimator = _build_method(method, random_state)
    return kind, Pipeline([("templater", DrainTemplater(log_format=log_format)),
                           ("model", estimator)])


def explain(model, sessions):
    """Per-line weights of what drove each session's score, or ``None`` when unavailable.

    Uses ``model.explain`` if the model has one, else the ``explain`` of a
    pipeline's last step applied to the output of the steps before it.
    """
    target, data = model, sessions
    if not hasattr(target, "explain"):
        steps = getattr(model, "steps", None)
        if not steps or not hasattr(steps[-1][1], "explain"):
            return None
        data = model[:-1].transform(sessions) if len(steps) > 1 else sessions
        target = steps[-1][1]
    weights = target.explain(data)
    return [np.asarray(w, dtype=float) if w is not None and len(w) == len(s) else None
            for w, s in zip(weights, sessions, strict=True)]


def _prepare_lines(lines, label_column):
    """Split off the BGL-style label column, so the model never reads the answer."""
    from .preprocessing import bgl_line_labels, strip_label_column

    if not label_column:
        return lines, None
    return strip_label_column(lines), bgl_line_labels(lines)


def _cut(lines, rule):
    """Sessions of ``lines`` by the model's rule: (sessions, ids, line_indices)."""
    from .preprocessing import sessions_from_lines, windows_from_lines

    if rule["mode"] == "key":
        return sessions_from_lines(lines, key=rule["key"])
    sessions, indices = windows_from_lines(lines, size=rule["size"])
    return sessions, None, indices


def _session_rule(args):
    if args.session_key is not None:
        import re

        try:
            re.compile(args.session_key)
        except re.error as exc:
            raise CommandError(
                f"--session-key {args.session_key!r} is not a valid regex: {exc}") from None
        return {"mode": "key", "key": args.session_key}
    if args.window < 1:
        raise CommandError(f"--window must be a positive integer, got {args.window}")
    return {"mode": "window", "size": args.window}


# -- sklog fit --------------------------------------------------------------------------------

def cmd_fit(args):
    """Train a pipeline on a log file and save it with its session rule."""
    import joblib

    from . import __version__
    from .preprocessing import iter_lines, labels_from_line_labels, labels_from_table

    path = _check_readable(args.logfile)
    rule = _session_rule(args)
    out_dir = Path(args.out).resolve().parent
    if not out_dir.is_dir():  # fail before a long fit, not after
        raise CommandError(f"cannot write {args.out}: folder {out_dir} does not exist")
    label_column = args.labels == "column1"
    table = None
    if args.labels and not label_column:
        from .datasets import read_label_table

        if rule["mode"] != "key":
            raise CommandError("--labels FILE (an id,label table) needs --session-key; "
                               "with --window use --labels column1")
        table = read_label_table(_check_readable(args.labels, "labels file"))
    kind = METHODS[args.method][0]
    if kind == "classifier" and not args.labels:
        raise CommandError(f"--method {args.method} is supervised: give --labels FILE or "
                           "--labels column1")

    lines = list(_progress(iter_lines(path), desc="reading", unit=" lines"))
    lines, line_labels = _prepare_lines(lines, label_column)
    sessions, ids, indices = _cut(lines, rule)
    if not sessions:
        how = f" with --session-key {rule['key']!r}" if rule["mode"] == "key" else ""
        raise CommandError(f"no session found in {path}{how}")
    y = None
    if table is not None:
        try:
            y = labels_from_table(ids, table)
        except KeyError as exc:
            raise CommandError(f"{args.labels}: {exc.args[0]}") from None
    elif label_column:
        y = labels_from_line_labels(line_labels, indices)

    kind, pipeline = build_pipeline(args.method, log_format=args.log_format,
                                    random_state=args.seed)
    if kind == "detector":
        X = sessions if y is None else [sessions[i] for i in np.flatnonzero(y == 0)]
        fit_y = None
    else:
        if len(np.unique(y)) < 2:
            raise CommandError(f"--method {args.method} needs both normal and anomalous "
                               "sessions in the labels")
        X, fit_y = sessions, y
    if not X:
        raise CommandError("no normal session to learn from")
    _info(args, f"fitting {args.method} ({kind}) on {len(X)} sessions "
                f"({len(sessions)} in {path.name}"
                + (f", {int(np.sum(y))} anomalous" if y is not None else "") + ")")
    start = time.perf_counter()
    pipeline.fit(X) if fit_y is None else pipeline.fit(X, fit_y)
    seconds = time.perf_counter() - start
    model = {
        "format": MODEL_FORMAT, "sklog_version": __version__, "pipeline": pipeline,
        "method": args.method, "kind": kind, "session_rule": rule,
        "label_column": label_column, "log_format": args.log_format,
        "trained_on": {"file": str(path), "n_sessions": len(sessions), "n_fit": len(X),
                       "n_anomalies": None if y is None else int(np.sum(y)),
                       "fit_seconds": seconds},
    }
    try:
        joblib.dump(model, args.out)
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    _info(args, f"fitted in {seconds:.1f}s; wrote {args.out}")
    return 0


def _info(args, message):
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr, flush=True)


# -- sklog detect -----------------------------------------------------------------------------

def load_model(path):
    """Load a model file written by ``sklog fit``, refusing other formats and versions."""
    import joblib

    from . import __version__

    path = _check_readable(path, "model file")
    try:
        # held back until the version check passes: a model from another version
        # must give one clear line, not a screen of unpickling warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is "not a model file"
        raise CommandError(f"{path} is not a model file written by sklog fit "
                           f"({type(exc).__name__})") from None
    if not isinstance(model, dict) or model.get("format") != MODEL_FORMAT:
        raise CommandError(f"{path} is not a model file written by sklog fit")
    if model.get("sklog_version") != __version__:
        raise CommandError(f"{path} was written by sklog {model.get('sklog_version')}, this is "
                           f"sklog {__version__}: refit it with this version (sklog fit)")
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)
    return model


def _iter_batches(path, model, batch_size):
    """Stream ``(sessions, raw_lines, ids, line_numbers, labels)`` batches from a log file.

    Windows are cut chunk by chunk, so memory stays bounded however long the
    file; sessions keyed by an id are complete only at the end of the file, so
    they are grouped first (holding the file's lines once) and then scored in
    batches.
    """
    from .preprocessing import iter_lines, labels_from_line_labels

    rule, label_column = model["session_rule"], model["label_column"]
    lines_iter = _progress(iter_lines(path), desc="scoring", unit=" lines")
    if rule["mode"] == "key":
        raw = list(lines_iter)
        lines, line_labels = _prepare_lines(raw, label_column)
        sessions, ids, indices = _cut(lines, rule)
        labels = None if line_labels is None else labels_from_line_labels(line_labels, indices)
        for lo in range(0, len(sessions), batch_size):
            hi = lo + batch_size
            yield (sessions[lo:hi], [[raw[k] for k in i] for i in indices[lo:hi]], ids[lo:hi],
                   [i + 1 for i in indices[lo:hi]], None if labels is None else labels[lo:hi])
        return
    chunk_lines = rule["size"] * batch_size
    offset = 0
    buffer = []

    def flush(buffer, offset):
        lines, line_labels = _prepare_lines(buffer, label_column)
        sessions, _, indices = _cut(lines, rule)
        numbers = [offset + i + 1 for i in indices]
        ids = [f"lines {n[0]}-{n[-1]}" for n in numbers]
        labels = None if line_labels is None else labels_from_line_labels(line_labels, indices)
        return sessions, [[buffer[k] for k in i] for i in indices], ids, numbers, labels

    for line in lines_iter:
        buffer.append(line)
        if len(buffer) == chunk_lines:
            yield flush(buffer, offset)
            offset += len(buffer)
            buffer = []
    if buffer:
        yield flush(buffer, offset)


def cmd_detect(args):
    """Score every session of a log file; print the anomalous ones with their raw lines."""
    from .metrics import anomaly_score, evaluate_predictions, predict_anomaly

    model = load_model(args.model)
    path = _check_readable(args.logfile)
    pipeline = model["pipeline"]
    n_sessions = n_anomalous = 0
    truth, flagged, all_scores = [], [], []
    for sessions, raw, ids, numbers, labels in _iter_batches(path, model, args.batch_size):
        if not sessions:
            continue
        is_anomaly = predict_anomaly(pipeline, sessions)
        scores = anomaly_score(pipeline, sessions)
        picked = np.arange(len(sessions)) if args.all else np.flatnonzero(is_anomaly)
        weights = explain(pipeline, [sessions[i] for i in picked]) if len(picked) else []
        for j, i in enumerate(picked):
            record = _record(ids[i], raw[i], numbers[i], scores[i], bool(is_anomaly[i]),
                             weights[j] if weights is not None else None, args.top_lines,
                             None if labels is None else int(labels[i]))
            _print_record(record, args.format)
        n_sessions += len(sessions)
        n_anomalous += int(is_anomaly.sum())
        if labels is not None:
            truth.append(labels)
            flagged.append(is_anomaly)
            all_scores.append(scores)
    summary = f"{path.name}: {n_sessions} sessions scored, {n_anomalous} anomalous"
    if truth:
        m = evaluate_predictions(np.concatenate(truth) == 1, np.concatenate(flagged),
                                 np.concatenate(all_scores))
        summary += (f"; against column-1 labels ({m['n_anomalies']} anomalous): precision "
                    f"{m['precision']:.3f}, recall {m['recall']:.3f}, F1 {m['f1']:.3f}")
    _info(args, summary)
    return 0


def _record(session_id, session, numbers, score, anomalous, weights, top, label):
    order = (np.argsort(-weights, kind="stable")[:top] if weights is not None
             else np.arange(min(top, len(session))))
    lines = [{"line": int(numbers[k]), "text": session[k],
              "weight": None if weights is None else float(weights[k])} for k in order]
    record = {"session": str(session_id), "anomalous": anomalous, "score": float(score),
              "n_lines": len(session), "top_lines": lines}
    if label is not None:
        record["label"] = label
    return record


def _print_record(record, fmt):
    if fmt == "json":
        print(json.dumps(record), flush=True)
        return
    flag = "ANOMALY" if record["anomalous"] else "normal "
    label = f"  label {record['label']}" if "label" in record else ""
    print(f"{flag} {record['session']}  score {record['score']:.4g}  "
          f"{record['n_lines']} lines{label}")
    for line in record["top_lines"]:
        weight = "" if line["weight"] is None else f"  weight {line['weight']:.3g}"
        print(f"    line {line['line']}{weight}: {line['text']}")
    sys.stdout.flush()


# -- sklog datasets, bench, demo --------------------------------------------------------------

def cmd_datasets(args):
    """List the bundled samples and fetchable archives, or fetch one archive."""
    from . import datasets

    if args.action == "list":
        print("bundled (offline):")
        print("  load_hdfs_sample()      raw HDFS blocks with block labels")
        print("  load_bgl_sample()       raw BGL lines in windows, per-line labels")
        print("  load_loghub_2k(SYSTEM)  loghub 2k samples: "
              + ", ".join(datasets.LOGHUB_2K_SYSTEMS))
        print("fetchable (sklog datasets fetch NAME):")
        for name, spec in datasets.LOGHUB_ARCHIVES.items():
            labeled = "labeled" if spec.labeled else "unlabeled"
            print(f"  {name:12s} {spec.raw_size:>10s}  {labeled:9s}  {spec.description}")
        return 0
    if not args.name:
        raise CommandError("fetch needs a NAME (see sklog datasets list)")
    names = {n.lower(): n for n in datasets.LOGHUB_ARCHIVES}
    if args.name.lower() not in names:
        raise CommandError(f"unknown archive {args.name!r}; known: {', '.join(names.values())}")
    bunch = datasets.fetch_loghub(names[args.name.lower()], data_home=args.data_home,
                                  verbose=not args.quiet)
    print(bunch.path)
    return 0


def cmd_bench(args):
    from .benchmarks._harness import main as bench_main

    args.prog = "sklog bench"
    return bench_main(args=args)


def cmd_demo(args):
    from ._demo import run_demo

    run_demo(out=args.out, seed=args.seed, methods=args.methods)
    return 0


# -- parser -----------------------------------------------------------------------------------

def build_parser():
    parser = _Parser(prog="sklog", description="Log anomaly detection with the scikit-learn API.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"sklog {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    fit = sub.add_parser("fit", help="train a pipeline on your own log file",
                         description="Cut LOGFILE into sessions, fit DrainTemplater + a method, "
                                     "and save the pipeline with its session rule.")
    fit.add_argument("logfile", metavar="LOGFILE", help="plain, .gz, .bz2 or .zst log file")
    rule = fit.add_mutually_exclusive_group(required=True)
    rule.add_argument("--session-key", metavar="REGEX",
                      help=r"group lines by this id regex, e.g. 'blk_-?\d+' for HDFS blocks")
    rule.add_argument("--window", type=int, metavar="N",
                      help="cut the log into non-overlapping windows of N lines")
    fit.add_argument("--labels", metavar="FILE|column1",
                     help="session labels: an id,label csv (with --session-key), or 'column1' "
                          "for BGL/Thunderbird logs whose first column is '-' on normal lines "
                          "(the column is removed before training)")
    fit.add_argument("--method", required=True, choices=sorted(METHODS), metavar="NAME",
                     help="detectors: pca, invariants, clustering, alogscan (labels optional; "
                          "with labels they learn from normal sessions only); classifiers, "
                          "which need --labels: logistic, decision_tree, linear_svc, "
                          "gradient_boosting, siamese")
    fit.add_argument("--out", required=True, metavar="MODEL", help="where to write the model "
                                                                   "(joblib)")
    fit.add_argument("--log-format", default=None,
                     help="DrainTemplater log_format: a loghub system name (HDFS, BGL, ...) or "
                          "a '<Date> <Time> <Content>' format; default: mine whole lines")
    fit.add_argument("--seed", type=int, default=0, help="random_state of the method")
    fit.add_argument("--quiet", action="store_true", help="no progress messages")
    fit.set_defaults(func=cmd_fit)

    detect = sub.add_parser("detect", help="score the sessions of a new log file",
                            description="Cut LOGFILE the way the model was trained, score every "
                                        "session (streaming), print anomalous sessions with their "
                                        "raw lines and the lines that drove the score.")
    detect.add_argument("logfile", metavar="LOGFILE")
    detect.add_argument("--model", required=True, help="a file written by sklog fit")
    detect.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default) or JSON lines, one object per session")
    detect.add_argument("--top-lines", type=int, default=5, metavar="K",
                        help="raw lines shown per session, highest weight first (default 5)")
    detect.add_argument("--all", action="store_true", help="print normal sessions too")
    detect.add_argument("--batch-size", type=int, default=1000,
                        help="sessions scored at a time (bounds memory)")
    detect.add_argument("--quiet", action="store_true", help="no summary line on stderr")
    detect.set_defaults(func=cmd_detect)

    from .benchmarks._harness import build_parser as bench_parser

    bench = sub.add_parser("bench", help="run the benchmark (python -m sklog.benchmarks)",
                           description="Run the registered (dataset, protocol, method) cells.")
    bench_parser(bench)
    bench.set_defaults(func=cmd_bench)

    demo = sub.add_parser("demo", help="train every method on the bundled HDFS sample",
                          description="Fit the baselines and available methods on the bundled "
                                      "HDFS sample, print the table, write PR curves and trace "
                                      "one anomalous session to its raw lines.")
    demo.add_argument("--out", default="sklog_demo.png", help="figure path (default "
                                                              "sklog_demo.png)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--methods", help="comma-separated filter of demo methods")
    demo.set_defaults(func=cmd_demo)

    data = sub.add_parser("datasets", help="list bundled samples and fetch loghub archives",
                          description="List the bundled samples and the loghub archives, or "
                                      "download (resumable, verified) one archive.")
    data.add_argument("action", choices=("list", "fetch"))
    data.add_argument("name", nargs="?", help="archive name for fetch (e.g. HDFS_v1)")
    data.add_argument("--data-home", default=None, help="cache folder (default $SKLOG_DATA or "
                                                        "~/sklog_data)")
    data.add_argument("--quiet", action="store_true")
    data.set_defaults(func=cmd_datasets)
    return parser


def main(argv=None):
    """Run the ``sklog`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "batch_size", 1) < 1 or getattr(args, "top_lines", 1) < 0:
        print(f"sklog {args.command}: error: --batch-size and --top-lines must be positive",
              file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"sklog {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sklog {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sklog detect ... | head`: stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback (SKLOG_DEBUG=1 shows it)
        if os.environ.get("SKLOG_DEBUG"):
            raise
        text = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename:
            text = f"{exc.filename}: {exc.strerror or text}"
        print(f"sklog {args.command}: error: {type(exc).__name__}: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
