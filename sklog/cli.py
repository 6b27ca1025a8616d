"""The ``sklog`` command: fit a pipeline on your own log, detect anomalies, benchmark, demo.

::

    sklog fit app.log --session-key 'req-[0-9a-f]+' --method pca --out model.joblib
    sklog fit bgl.log --window 20 --labels column1 --method logistic --out model.joblib
    sklog detect new.log --model model.joblib --format table
    sklog bench --quick
    sklog demo
    sklog datasets list

The ``--method`` names are those of :mod:`sklog.methods`. Errors (bad
arguments, unreadable files, a model written by another sklog
version) print one line on stderr and exit non-zero; set ``SKLOG_DEBUG=1`` to
see the traceback instead. Model files are pickles: load only files you
trust, loading one can execute code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

from .methods import METHODS

#: What a model file holds; bumped when the dict layout changes.
MODEL_FORMAT = "sklog-model/1"


class CommandError(Exception):
    """A user-facing error: printed as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage dump)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# -- helpers ----------------------------------------------------------------------------------

def _progress(iterable=None, disable=None, **kwargs):
    """A tqdm progress bar on stderr, shown only on a terminal (``disable=None``)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=disable, file=sys.stderr, dynamic_ncols=True, **kwargs)


def _check_readable(path, what="log file"):
    path = Path(path)
    if not path.exists():
        raise CommandError(f"{what} {path} does not exist")
    if path.is_dir():
        raise CommandError(f"{what} {path} is a directory")
    if not os.access(path, os.R_OK):
        raise CommandError(f"{what} {path} is not readable")
    return path


def _check_log(path):
    """A readable, non-empty text log (plain or compressed), or one clear error."""
    from .preprocessing import looks_binary

    path = _check_readable(path)
    if path.stat().st_size == 0:
        raise CommandError(f"log file {path} is empty")
    try:
        binary = looks_binary(path)
    except (OSError, EOFError) as exc:  # a truncated or corrupt compressed file
        raise CommandError(f"cannot read log file {path}: {exc}") from None
    if binary:
        raise CommandError(f"{path} is a binary file, not a text log (plain, gzip, bz2 or "
                           "zstd text)")
    return path


def _check_log_format(log_format):
    """Refuse an unknown ``--log-format`` before anything is read or fitted."""
    from .preprocessing import DrainTemplater

    try:
        DrainTemplater(log_format=log_format)._resolve_settings()
    except ValueError as exc:
        raise CommandError(f"argument --log-format: {exc} (see --help)") from None


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


def _cut(rule):
    """A model's session rule as keyword arguments of ``iter_session_batches``."""
    return {"key": rule["key"]} if rule["mode"] == "key" else {"window": rule["size"]}


def _session_batches(lines, rule, label_column, batch_size=1000):
    """The sessions of ``lines`` cut by a model's session rule, in batches."""
    from .preprocessing import iter_session_batches

    return iter_session_batches(lines, **_cut(rule), batch_size=batch_size,
                                label_column=label_column)


# -- sklog fit --------------------------------------------------------------------------------

def cmd_fit(args):
    """Train a pipeline on a log file and save it with its session rule."""
    import joblib
    import numpy as np

    from . import __version__
    from .methods import get_method
    from .preprocessing import iter_lines, labels_from_table

    method = get_method(args.method)
    path = _check_log(args.logfile)
    rule = _session_rule(args)
    if args.log_format is not None:
        _check_log_format(args.log_format)
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
    if method.needs_labels and not args.labels:
        raise CommandError(f"--method {args.method} is supervised: give --labels FILE or "
                           "--labels column1")

    try:
        pipeline = method.build_pipeline(log_format=args.log_format, random_state=args.seed)
    except ImportError as exc:
        raise CommandError(f"method {args.method!r} is not available in this build ({exc})"
                           ) from None
    if label_column and args.log_format is not None and "draintemplater" in pipeline.named_steps:
        from .preprocessing import without_label_field

        # the label column is cut off each line before templating: so is the format's field
        pipeline.set_params(**{f"draintemplater__{name}": value for name, value
                               in without_label_field(args.log_format).items()})
    _set_training_options(pipeline, args)

    lines = _progress(iter_lines(path), desc="reading", unit=" lines")
    batches = list(_session_batches(lines, rule, label_column))
    sessions = [session for batch in batches for session in batch.sessions]
    if not sessions:
        how = f" with --session-key {rule['key']!r}" if rule["mode"] == "key" else ""
        raise CommandError(f"no session found in {path}{how}")
    y = None
    if table is not None:
        try:
            y = labels_from_table([i for batch in batches for i in batch.session_ids], table)
        except KeyError as exc:
            raise CommandError(f"{args.labels}: {exc.args[0]}") from None
    elif label_column:
        y = np.concatenate([batch.labels for batch in batches])

    kind = method.kind
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
    with contextlib.redirect_stdout(sys.stderr):  # skorch prints its epoch table
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


def _set_training_options(pipeline, args):
    """``--max-epochs`` and ``--verbose`` on the steps that train in epochs."""
    trained = [step for _, step in pipeline.steps
               if "max_epochs" in step.get_params(deep=False)]
    if args.max_epochs is not None:
        if not trained:
            raise CommandError(f"argument --max-epochs: --method {args.method} does not train "
                               "in epochs (see --help)")
        for step in trained:
            step.set_params(max_epochs=args.max_epochs)
    verbose = args.verbose
    if verbose is None:  # progress by default on a terminal, unless --quiet
        verbose = not args.quiet and sys.stderr.isatty()
    for step in trained:
        if "verbose" in step.get_params(deep=False):
            step.set_params(verbose=bool(verbose))


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


def cmd_detect(args):
    """Score every session of a log file; print the anomalous ones with their raw lines.

    The log is streamed: sessions are cut, templated and scored ``--batch-size``
    at a time (:func:`sklog.inspection.score_stream`), so memory stays bounded.
    """
    from .inspection import score_stream
    from .preprocessing import iter_lines

    model = load_model(args.model)
    index = _framed_index(args.logfile)
    if index is not None:
        return _detect_archive(args, _check_readable(args.logfile), model, index)
    path = _check_log(args.logfile)
    pipeline = model["pipeline"]
    verbose = None if args.verbose is None and not args.quiet else bool(args.verbose)
    lines = _progress(iter_lines(path), disable=None if verbose is None else not verbose,
                      desc="scoring", unit=" lines", unit_scale=True)
    n_sessions = n_anomalous = 0
    truth, flagged, all_scores = [], [], []
    limits = {name: value or None for name, value in (("max_gap", args.max_gap),
                                                      ("max_open", args.max_open))
              if value is not None}  # 0: no limit; not given: the library's default
    scored = score_stream(pipeline, lines, **_cut(model["session_rule"]), **limits,
                          batch_size=args.batch_size, label_column=model["label_column"],
                          explain=True if args.all else "anomalies")
    with contextlib.closing(lines):
        for batch, (is_anomaly, scores, weights) in scored:
            if n_sessions == 0:
                _warn_on_mismatch(pipeline, model, batch.sessions)
            _print_batch(args, batch, is_anomaly, scores, weights)
            n_sessions += len(batch.sessions)
            n_anomalous += int(is_anomaly.sum())
            if batch.labels is not None:
                truth.append(batch.labels)
                flagged.append(is_anomaly)
                all_scores.append(scores)
    _detect_summary(args, path, model, n_sessions, n_anomalous, truth, flagged, all_scores)
    return 0


def _framed_index(path):
    """The index of a framed archive (``write_framed_log``), or ``None`` for any other file."""
    from .preprocessing import FramedArchiveError, read_framed_index

    try:
        return read_framed_index(path)
    except (FramedArchiveError, OSError):
        return None


def _detect_archive(args, path, model, index):
    """``sklog detect`` on a framed archive: frame by frame; only reported frames are opened.

    A model that starts with a ``ByteWindower`` (CLAD) scores the compressed frames
    themselves; any other model gets each session's lines.
    """
    import numpy as np

    from .inspection import score_archive
    from .preprocessing import read_frame_lines

    n_sessions = n_anomalous = 0
    scored = score_archive(model["pipeline"], path, batch_size=args.batch_size)
    for batch, (is_anomaly, scores, _) in _progress(
            scored, disable=None if args.verbose is None and not args.quiet
            else not args.verbose, desc="scoring", unit=" batches"):
        for i in range(len(batch.session_ids)) if args.all else np.flatnonzero(is_anomaly):
            lines = read_frame_lines(path, batch.session_ids[i], index=index)
            _print_record(_record(batch.session_ids[i], lines, batch.line_numbers[i], scores[i],
                                  bool(is_anomaly[i]), None, args.top_lines, None), args.format)
        n_sessions += len(batch.session_ids)
        n_anomalous += int(is_anomaly.sum())
    if n_sessions == 0:
        raise CommandError(f"{path} is a framed archive without sessions (an empty log)")
    _detect_summary(args, path, model, n_sessions, n_anomalous, [], [], [])
    return 0


def _print_batch(args, batch, is_anomaly, scores, weights):
    """Print the anomalous sessions of a scored batch (every session with ``--all``)."""
    import numpy as np

    picked = np.arange(len(batch.sessions)) if args.all else np.flatnonzero(is_anomaly)
    for i in picked:
        record = _record(batch.session_ids[i], batch.raw_lines[i], batch.line_numbers[i],
                         scores[i], bool(is_anomaly[i]),
                         None if weights is None else weights[i], args.top_lines,
                         None if batch.labels is None else int(batch.labels[i]))
        _print_record(record, args.format)


def _detect_summary(args, path, model, n_sessions, n_anomalous, truth, flagged, all_scores):
    """The one-line summary of ``sklog detect`` (or the error when no session was found)."""
    import numpy as np

    from .metrics import evaluate_predictions

    if n_sessions == 0:
        rule = model["session_rule"]
        how = f" with the model's session key {rule['key']!r}" if rule["mode"] == "key" else ""
        raise CommandError(f"no session found in {path}{how}")
    summary = f"{path.name}: {n_sessions} sessions scored, {n_anomalous} anomalous"
    if truth:
        m = evaluate_predictions(np.concatenate(truth) == 1, np.concatenate(flagged),
                                 np.concatenate(all_scores))
        summary += (f"; against column-1 labels ({m['n_anomalies']} anomalous): precision "
                    f"{m['precision']:.3f}, recall {m['recall']:.3f}, F1 {m['f1']:.3f}")
    _info(args, summary)


def _warn_on_mismatch(pipeline, model, sessions, share=0.5):
    """Warn when most lines of ``sessions`` miss the model's log format or its templates.

    Checked on the first batch only: a log in another format than the model's
    would otherwise come out all anomalous without a word.
    """
    from .preprocessing import UNKNOWN_TEMPLATE, DrainTemplater, log_format_regex

    templater = pipeline.steps[0][1] if hasattr(pipeline, "steps") else None
    lines = [line for session in sessions for line in session]
    if not isinstance(templater, DrainTemplater) or not lines:
        return
    if templater.log_format_ is not None:
        match = log_format_regex(templater.log_format_).match
        missed = sum(match(line.strip()) is None for line in lines)
        if missed > share * len(lines):
            warnings.warn(f"{missed} of the first {len(lines)} lines do not fit the model's "
                          f"--log-format {model['log_format']!r}: is this log in the format "
                          "the model was trained on?", UserWarning, stacklevel=2)
            return
    unknown = sum(template == UNKNOWN_TEMPLATE
                  for session in templater.transform(sessions) for template in session)
    if unknown > share * len(lines):
        warnings.warn(f"{unknown} of the first {len(lines)} lines match none of the model's "
                      "templates: is this log from the system the model was trained on?",
                      UserWarning, stacklevel=2)


def _record(session_id, session, numbers, score, anomalous, weights, top, label):
    import numpy as np

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
    """``python -m sklog.benchmarks`` under another name; its options are read only here."""
    from .benchmarks._harness import build_parser as bench_parser
    from .benchmarks._harness import main as bench_main

    parser = bench_parser(_Parser(prog="sklog bench", description=BENCH_DESCRIPTION))
    try:
        bench_args = parser.parse_args(args.bench_argv)
    except SystemExit as exc:  # --help or a usage error
        return exc.code if isinstance(exc.code, int) else 2
    bench_args.prog = "sklog bench"
    return bench_main(args=bench_args)


def cmd_demo(args):
    from ._demo import run_demo

    run_demo(out=args.out, seed=args.seed, methods=args.methods)
    return 0


# -- parser -----------------------------------------------------------------------------------

BENCH_DESCRIPTION = "Run the registered (dataset, protocol, method) cells."


def _methods_epilog():
    import textwrap

    lines = ["methods (detectors learn normal behaviour: given labels, they are fitted on the",
             "normal sessions only):"]
    for name, method in METHODS.items():
        needs = ", needs --labels" if method.needs_labels else ""
        lines.append(textwrap.fill(f"{method.description} ({method.kind}{needs})", width=79,
                                   initial_indent=f"  {name:18s} ", subsequent_indent=" " * 21))
    return "\n".join(lines)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or a positive integer, got {value}")
    return value


def build_parser():
    """The ``sklog`` argument parser (``bench`` options are parsed by :func:`cmd_bench`)."""
    parser = _Parser(prog="sklog", description="Log anomaly detection with the scikit-learn API.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"sklog {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    fit = sub.add_parser("fit", help="train a pipeline on your own log file",
                         description="Cut LOGFILE into sessions, fit DrainTemplater + a method, "
                                     "and save the pipeline with its session rule.",
                         epilog=_methods_epilog(),
                         formatter_class=argparse.RawDescriptionHelpFormatter)
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
    fit.add_argument("--method", required=True, choices=list(METHODS), metavar="NAME",
                     help="the method (listed below)")
    fit.add_argument("--out", required=True, metavar="MODEL", help="where to write the model "
                                                                   "(joblib)")
    fit.add_argument("--log-format", default=None,
                     help="DrainTemplater log_format: a loghub system name (HDFS, BGL, ...) or "
                          "a '<Date> <Time> <Content>' format; default: mine whole lines")
    fit.add_argument("--seed", type=int, default=0, help="random_state of the method")
    fit.add_argument("--max-epochs", type=_positive_int, default=None, metavar="N",
                     help="training epochs of the neural methods (alogscan, siamese, ...); an "
                          "error for methods that do not train in epochs")
    fit.add_argument("--verbose", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bars of the neural methods: epochs, loss, ETA (default: "
                          "on when stderr is a terminal and --quiet is not given)")
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
    detect.add_argument("--max-gap", type=_non_negative_int, default=None, metavar="N",
                        help="with a --session-key model: a session is complete once N lines "
                             "went by without a line for it (bounds memory; 0: only at the end "
                             "of the file; default: sklog.preprocessing.DEFAULT_MAX_GAP)")
    detect.add_argument("--max-open", type=_non_negative_int, default=None, metavar="N",
                        help="with a --session-key model: at most N sessions open at a time, the "
                             "longest idle one is complete first (0: no cap; default: "
                             "sklog.preprocessing.DEFAULT_MAX_OPEN)")
    detect.add_argument("--verbose", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar with lines/s (default: on when stderr is a terminal "
                             "and --quiet is not given)")
    detect.add_argument("--quiet", action="store_true", help="no summary line on stderr")
    detect.set_defaults(func=cmd_detect)

    # the benchmark's options are parsed by cmd_bench, so `sklog --help` and the
    # other commands never import sklog.benchmarks
    bench = sub.add_parser("bench", help="run the benchmark (python -m sklog.benchmarks)",
                           description=BENCH_DESCRIPTION, add_help=False)
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


def _one_line_warnings(command):
    """A ``warnings.showwarning`` that prints each distinct warning once, as one line."""
    seen = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if text not in seen:
            seen.add(text)
            print(f"sklog {command}: warning: {text}", file=sys.stderr, flush=True)

    return show


def main(argv=None):
    """Run the ``sklog`` command; returns the exit status."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command == "bench":
            args.bench_argv = extra
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
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
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(args.command)
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
