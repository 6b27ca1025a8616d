"""Streaming at scale: ``python -m sklog.benchmarks.scale``.

Does templating and scoring stay flat in memory as the log grows? For each
dataset (``hdfs``, ``bgl``) a count pipeline, ``DrainTemplater`` (the loghub
preset) followed by :class:`~sklog.baselines.PCADetector`, is fitted once on
a fixed training part: the sessions of the first ``--train-lines`` lines of
the raw sample (HDFS blocks; BGL windows of 20 lines, label column removed).
Then, for every size N in ``--sizes``, a fresh subprocess loads the fitted
pipeline and streams N generated lines through
:func:`sklog.inspection.score_stream` (cut into sessions, templated and
scored ``--batch-size`` sessions at a time), so its peak RSS
(``getrusage``'s ``ru_maxrss``) is that of one N alone; the peak while
streaming alone (Linux ``VmHWM``, reset once the model is loaded) is
reported next to it.

The N lines are generated on the fly by replaying the raw sample (read
again from its gzip file at every round, so the generator holds one line at a
time): round ``r`` gives every HDFS block a fresh id (``blk_<r><id>``, the
round number on six digits, so ids never repeat across rounds) and moves
every date by ``r`` times the sample's span in whole days (HDFS: the
``yymmdd`` column; BGL: the Unix time and both date columns). Lines/s count
everything from the first generated line to the last score: generating,
cutting, templating, counting and scoring, on one core
(``OMP_NUM_THREADS=1``).

Results are printed as Markdown and, with ``--output``, written as
``scale.json`` and ``scale.md``. A progress bar on stderr shows lines/s.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

DATASETS = {
    "hdfs": {"file": "hdfs/hdfs_raw_sample.log.gz", "cut": {"key": r"blk_-?\d+"},
             "label_column": False, "session_rule": r"key blk_-?\d+ (HDFS blocks)"},
    "bgl": {"file": "bgl/bgl_raw_sample.log.gz", "cut": {"window": 20},
            "label_column": True, "session_rule": "windows of 20 lines (label column removed)"},
}
DEFAULT_SIZES = (100_000, 1_000_000, 10_000_000)


def _templater_params(data):
    if data == "hdfs":
        return {"log_format": "HDFS"}
    from ._data import TEMPLATERS

    # the loghub BGL preset without its <Label> field, where the benchmark data defines it
    return dict(TEMPLATERS.get("bgl_raw", {"log_format": None}))


# -- the generator ----------------------------------------------------------------------------

def _day_shift(text, fmt, days):
    return (datetime.datetime.strptime(text, fmt) + datetime.timedelta(days=days)).strftime(fmt)


def _hdfs_round(lines, r, span_days, dates):
    """One replay round of HDFS lines: fresh block ids, dates moved by ``r * span_days``."""
    prefix = f"{r:06d}"
    for line in lines:
        head = line[:6]
        date = dates.get(head)
        if date is None:
            date = dates[head] = (_day_shift(head, "%y%m%d", r * span_days) if head.isdigit()
                                  else head)
        line = date + line[6:]
        if "blk_" in line:
            line = (line.replace("blk_-", "\0").replace("blk_", "blk_" + prefix)
                    .replace("\0", "blk_-" + prefix))
        yield line


def _bgl_round(lines, r, span_days, dates):
    """One replay round of BGL lines: Unix time and both date columns moved by ``r`` spans."""
    seconds = r * span_days * 86_400
    for line in lines:
        parts = line.split(" ", 5)
        if len(parts) == 6 and parts[1].isdigit():
            day = parts[2]
            new = dates.get(day)
            if new is None:
                try:
                    new = dates[day] = _day_shift(day, "%Y.%m.%d", r * span_days)
                except ValueError:
                    new = dates[day] = day
            parts[1] = str(int(parts[1]) + seconds)
            parts[2] = new
            parts[4] = new.replace(".", "-") + parts[4][10:]
            line = " ".join(parts)
        yield line


#: days each replay round moves the dates: the samples' spans, rounded up
_SPAN_DAYS = {"hdfs": 3, "bgl": 90}


def replay(data, data_dir, n_lines, first_round=1):
    """``n_lines`` lines of ``data`` (``"hdfs"`` or ``"bgl"``): the raw sample replayed.

    Round ``first_round`` is the first; each round streams the sample's gzip
    file again, so memory does not grow with ``n_lines``.

    Examples
    --------
    >>> from sklog.benchmarks.scale import replay
    >>> from sklog.benchmarks._data import default_data_dir
    >>> data = default_data_dir()
    >>> if data is not None:  # the shared data folder
    ...     line = next(replay("hdfs", data, 1))
    ...     assert line.startswith("081112 203530") and "blk_0000014394112519745907149" in line
    """
    from ..preprocessing import iter_lines

    path = Path(data_dir) / DATASETS[data]["file"]
    one_round = _hdfs_round if data == "hdfs" else _bgl_round

    def rounds():
        r = first_round
        while True:
            yield from one_round(iter_lines(path), r, _SPAN_DAYS[data], {})
            r += 1

    return islice(rounds(), n_lines)


# -- fit once, then stream each size in its own process ---------------------------------------

def fit_model(data, data_dir, train_lines):
    """The count pipeline fitted on the sessions of the first ``train_lines`` sample lines."""
    from sklearn.pipeline import make_pipeline

    from ..baselines import PCADetector
    from ..preprocessing import (
        DrainTemplater,
        iter_lines,
        sessions_from_lines,
        strip_label_column,
        windows_from_lines,
    )

    spec = DATASETS[data]
    lines = list(islice(iter_lines(Path(data_dir) / spec["file"]), train_lines))
    if spec["label_column"]:
        lines = strip_label_column(lines)
    cut = spec["cut"]
    sessions = (sessions_from_lines(lines, key=cut["key"])[0] if "key" in cut
                else windows_from_lines(lines, size=cut["window"])[0])
    params = _templater_params(data)
    pipeline = make_pipeline(DrainTemplater(**params), PCADetector())
    start = time.perf_counter()
    pipeline.fit(sessions)
    return pipeline, {"train_lines": len(lines), "train_sessions": len(sessions),
                      "templates": len(pipeline[0].templates_), "templater": params,
                      "fit_s": round(time.perf_counter() - start, 2)}


def _rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def stream_one(data, data_dir, n_lines, model_path, *, batch_size, max_gap, max_open,
               progress=True):
    """Stream ``n_lines`` generated lines through the saved pipeline; one result row.

    Meant to run in a process of its own (``--one``), so ``peak_rss_mb`` is
    this size's alone.
    """
    import joblib
    from tqdm.auto import tqdm

    from ..inspection import score_stream
    from ._harness import _PeakMemory

    spec = DATASETS[data]
    pipeline = joblib.load(model_path)
    rss_loaded = _peak_rss_mb()
    consumed = [0]

    def counted(generated):
        for consumed[0], line in enumerate(generated, start=1):  # noqa: B007
            yield line

    lines = tqdm(counted(replay(data, data_dir, n_lines)), total=n_lines, unit=" lines",
                 unit_scale=True, mininterval=2.0, desc=f"{data} {n_lines:.0e}",
                 disable=not progress, file=sys.stderr, dynamic_ncols=True)
    n_sessions = n_anomalous = n_session_lines = 0
    trace, next_mark = [], n_lines / 10
    start = time.perf_counter()
    with _PeakMemory() as memory, lines:  # the peak from here on: streaming alone
        for batch, result in score_stream(pipeline, lines, **spec["cut"],
                                          label_column=spec["label_column"],
                                          batch_size=batch_size, max_gap=max_gap,
                                          max_open=max_open):
            n_sessions += len(batch.sessions)
            n_anomalous += int(result.is_anomaly.sum())
            n_session_lines += sum(len(s) for s in batch.sessions)
            if consumed[0] >= next_mark:  # RSS now, at every tenth of the stream
                trace.append([consumed[0], round(_rss_mb(), 1)])
                while next_mark <= consumed[0]:
                    next_mark += n_lines / 10
    seconds = time.perf_counter() - start
    return {
        "data": data, "lines": n_lines, "sessions": n_sessions,
        "lines_in_sessions": n_session_lines, "anomalous": n_anomalous,
        "seconds": round(seconds, 2), "lines_per_s": round(n_lines / seconds),
        "sessions_per_s": round(n_sessions / seconds),
        # the reset of VmHWM resets ru_maxrss too: the process's peak is the larger one
        "peak_rss_mb": round(max(rss_loaded, _peak_rss_mb()), 1),
        "rss_after_load_mb": round(rss_loaded, 1),
        "streaming_peak_rss_mb": round(memory.peak_mb, 1), "streaming_measure": memory.measure,
        "rss_trace_mb": trace, "session_rule": spec["session_rule"],
        "batch_size": batch_size, "max_gap": max_gap, "max_open": max_open,
        "model": "DrainTemplater + PCADetector (contamination='auto', Q-statistic)",
        "device": f"cpu, 1 core ({platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} cores on the machine)",
    }


def run(data_names, data_dir, sizes, *, train_lines=100_000, batch_size=1000,
        max_gap=100_000, max_open=100_000, progress=True, workdir=None):
    """Fit each dataset's pipeline once, then stream every size in a fresh subprocess."""
    import joblib

    rows = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for data in data_names:
            pipeline, fit_info = fit_model(data, data_dir, train_lines)
            model_path = Path(tmp) / f"{data}.joblib"
            joblib.dump(pipeline, model_path)
            for n in sizes:
                command = [sys.executable, "-m", "sklog.benchmarks.scale", "--one", data,
                           str(n), "--model", str(model_path), "--data", str(data_dir),
                           "--batch-size", str(batch_size), "--max-gap", str(max_gap),
                           "--max-open", str(max_open)]
                if not progress:
                    command.append("--quiet")
                env = {**os.environ, "OMP_NUM_THREADS": "1"}
                done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=env,
                                      check=True)
                row = json.loads(done.stdout.strip().splitlines()[-1])
                row.update(fit_info)
                rows.append(row)
                print(_row_line(row), file=sys.stderr, flush=True)
    return rows


def _row_line(row):
    return (f"{row['data']} {row['lines']:,} lines: {row['lines_per_s']:,} lines/s, "
            f"peak RSS {row['peak_rss_mb']:.0f} MB")


def markdown(rows):
    out = ["| data | lines | sessions | anomalous | seconds | lines/s "
           "| peak RSS of the process MB | / at 10^6 lines "
           "| peak RSS while streaming MB | / at 10^6 lines |",
           "|---|---|---|---|---|---|---|---|---|---|"]

    def ratio(row, field):
        base = next((b[field] for b in rows
                     if b["data"] == row["data"] and b["lines"] == 1_000_000), None)
        return f"{row[field] / base:.2f}" if base else ""

    for r in rows:
        out.append(f"| {r['data']} | {r['lines']:,} | {r['sessions']:,} | {r['anomalous']:,} "
                   f"| {r['seconds']} | {r['lines_per_s']:,} | {r['peak_rss_mb']:.0f} "
                   f"| {ratio(r, 'peak_rss_mb')} | {r['streaming_peak_rss_mb']:.0f} "
                   f"| {ratio(r, 'streaming_peak_rss_mb')} |")
    if rows:
        r = rows[0]
        rules = "; ".join(sorted({f"{x['data']}: {x['session_rule']}" for x in rows}))
        out += ["", f"{r['model']}, fitted on the sessions of the first {r['train_lines']:,} "
                    f"sample lines; sessions: {rules}; "
                    f"{r['batch_size']} sessions per batch, max_gap={r['max_gap']}, "
                    f"max_open={r['max_open']}; {r['device']}. Lines/s include generating "
                    "the lines. Peak RSS of the process: getrusage ru_maxrss of the size's own "
                    "subprocess (imports and loading the model included); while streaming: "
                    f"{r['streaming_measure']}, reset after loading the model."]
    return "\n".join(out)


def _size(text):
    value = float(text)
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(value)


def main(argv=None):
    from ._data import default_data_dir

    parser = argparse.ArgumentParser(prog="python -m sklog.benchmarks.scale",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="the shared data folder (default: "
                                                     "$SKLOG_SHARED_DATA or ../shared/data)")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--sizes", nargs="+", type=_size, default=list(DEFAULT_SIZES),
                        help="line counts, e.g. 1e5 1e6 1e7 (default)")
    parser.add_argument("--train-lines", type=_size, default=100_000)
    parser.add_argument("--batch-size", type=_size, default=1000)
    parser.add_argument("--max-gap", type=_size, default=100_000,
                        help="iter_sessions max_gap (the HDFS sample needs 68,431)")
    parser.add_argument("--max-open", type=_size, default=100_000)
    parser.add_argument("--output", help="folder for scale.json and scale.md")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--one", nargs=2, metavar=("DATA", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    data_dir = Path(args.data) if args.data else default_data_dir()
    if data_dir is None or not data_dir.is_dir():
        parser.error("the shared data folder was not found: give --data")
    limits = {"batch_size": args.batch_size, "max_gap": args.max_gap,
              "max_open": args.max_open}
    if args.one:  # the child process of one size
        data, n = args.one[0], _size(args.one[1])
        row = stream_one(data, data_dir, n, args.model, progress=not args.quiet, **limits)
        print(json.dumps(row))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = run(args.datasets, data_dir, args.sizes, train_lines=args.train_lines,
               progress=not args.quiet, **limits)
    report = markdown(rows)
    print(report)
    if args.output:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "scale.json").write_text(json.dumps(rows, indent=2))
        (out / "scale.md").write_text(report + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
