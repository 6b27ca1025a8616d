"""Template-mining benchmark: ``python -m sklog.benchmarks.templating``.

Three measurements of :class:`~sklog.preprocessing.DrainTemplater`:

0. **Engines side by side** (``--skip-engines`` to skip): ``engine="python"``
   (line by line, the code before vectorising) against ``engine="polars"``
   (batches): lines/s of fit then transform, of transform, and of
   ``fit_transform`` (which preprocesses each line once) on the HDFS and BGL raw
   samples, and whether both give the same templates on every line of those
   and of the 16 loghub 2k samples.

1. **Grouping accuracy** on the 16 loghub 2k samples, with each system's
   preset (``DrainTemplater(log_format=<system>)``), against the reference
   templates (``EventTemplate`` in ``<System>_2k.log_structured.csv.gz``) and
   Drain's published accuracy from ``loghub/settings.json``.
2. **Transform throughput** on the raw HDFS sample (the drain3 loop on one
   thread, the templater with its default engine, on polars' thread pool:
   ``POLARS_MAX_THREADS=1`` for one thread): the templater's
   ``transform`` against a plain loop over drain3's own ``TemplateMiner.match``
   on the same lines, both fitted on the same lines with the same settings,
   timed side by side in one run (best of ``--repeats`` alternating runs), once
   fitted and timed on all blocks and once fitted on the first half of the
   blocks and timed on the other half. The drain3 loop is given the messages
   already cut out of their headers (outside its timing); the templater's time
   includes input validation and header parsing. ``--whole-line`` adds the
   same two rows with ``log_format=None`` (whole lines, default masking).

Grouping accuracy is the share of lines whose predicted group holds exactly the
lines of their reference group (Zhu et al., ICSE-SEIP 2019). Results are
printed as Markdown and, with ``--output``, written as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import time
from collections import defaultdict
from pathlib import Path

from ..datasets import read_hdfs_raw
from ..preprocessing import (
    UNKNOWN_TEMPLATE,
    DrainTemplater,
    log_format_regex,
    loghub_presets,
    open_log,
    read_lines,
    windows_from_lines,
)

_DEFAULT_DATA = Path(
    os.environ.get("SKLOG_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared"
                   / "data")
)


def grouping_accuracy(predicted, reference):
    """Share of lines whose predicted group is exactly their reference group.

    Parameters
    ----------
    predicted, reference : sequence of hashable
        One group label (e.g. a template string) per line.

    Returns
    -------
    float

    Examples
    --------
    >>> from sklog.benchmarks.templating import grouping_accuracy
    >>> grouping_accuracy(["a", "a", "b", "c"], ["x", "x", "y", "y"])
    0.5
    """
    if len(predicted) != len(reference):
        raise ValueError(f"{len(predicted)} predicted labels for {len(reference)} lines.")
    if not reference:
        raise ValueError("no lines to score.")
    reference_size = defaultdict(int)
    for r in reference:
        reference_size[r] += 1
    groups = defaultdict(list)
    for i, p in enumerate(predicted):
        groups[p].append(i)
    correct = 0
    for lines in groups.values():
        labels = {reference[i] for i in lines}
        if len(labels) == 1 and reference_size[labels.pop()] == len(lines):
            correct += len(lines)
    return correct / len(reference)


def _reference_templates(path):
    with open_log(path) as raw:
        rows = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"))
        return [row["EventTemplate"] for row in rows]


def loghub_accuracy(data_dir, systems=None):
    """One row per loghub system: lines, templates, accuracy, published accuracy, fit time."""
    loghub = Path(data_dir) / "loghub"
    published = json.loads((loghub / "settings.json").read_text())
    rows = []
    for system in systems or list(loghub_presets()):
        lines = read_lines(loghub / system / f"{system}_2k.log")
        reference = _reference_templates(loghub / system / f"{system}_2k.log_structured.csv.gz")
        start = time.perf_counter()
        templater = DrainTemplater(log_format=system).fit([lines])
        predicted = templater.transform([lines])[0]
        seconds = time.perf_counter() - start
        rows.append({
            "system": system,
            "lines": len(lines),
            "templates": len(templater.templates_),
            "reference_templates": len(set(reference)),
            "grouping_accuracy": round(grouping_accuracy(predicted, reference), 4),
            "published_drain_accuracy": published.get(system, {}).get("drain_grouping_accuracy"),
            "fit_transform_s": round(seconds, 3),
        })
    return rows


def _drain3_miner(templater):
    """A drain3 TemplateMiner with the settings a fitted templater resolved."""
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.drain_sim_th = templater.similarity_threshold_
    config.drain_depth = templater.depth_
    config.drain_max_children = templater.max_children
    config.masking_instructions = [MaskingInstruction(p, "*") for p in templater.masking_]
    return TemplateMiner(config=config)


def _contents(lines, log_format):
    header = None if log_format is None else log_format_regex(log_format)
    out = []
    for line in lines:
        found = None if header is None else header.match(line.strip())
        out.append(found.group("Content") if found is not None else line)
    return out


def hdfs_throughput(data_dir, *, log_format="HDFS", repeats=3, held_out=False, bunch=None):
    """Lines/s of ``DrainTemplater.transform`` and of a drain3 ``match`` loop (one thread).

    Both are fitted on the same sessions (all blocks, or with ``held_out`` the
    first half of the blocks) and then map the same lines (all blocks, or the
    other half).
    """
    if bunch is None:
        hdfs = Path(data_dir) / "hdfs"
        bunch = read_hdfs_raw(hdfs / "hdfs_raw_sample.log.gz", hdfs / "hdfs_raw_sample_labels.csv")
    sessions = bunch.data
    if held_out:
        half = len(sessions) // 2
        fit_sessions, sessions = sessions[:half], sessions[half:]
    else:
        fit_sessions = sessions
    fit_lines = [line for session in fit_sessions for line in session]
    lines = [line for session in sessions for line in session]

    templater = DrainTemplater(log_format=log_format)
    start = time.perf_counter()
    templater.fit(fit_sessions)
    fit_s = time.perf_counter() - start

    # drain3 gets each message already cut out of its header, as drain3 expects.
    fit_messages = _contents(fit_lines, templater.log_format_)
    messages = _contents(lines, templater.log_format_)
    miner = _drain3_miner(templater)
    start = time.perf_counter()
    for message in fit_messages:
        miner.add_log_message(message)
    drain3_fit_s = time.perf_counter() - start

    ours, theirs = [], []
    output = matched = None
    for _ in range(repeats):
        start = time.perf_counter()
        output = templater.transform(sessions)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        matched = [miner.match(message) for message in messages]
        theirs.append(time.perf_counter() - start)

    flat = [t for session in output for t in session]
    agree = sum(
        (m.get_template() if m is not None else UNKNOWN_TEMPLATE) == t
        for m, t in zip(matched, flat, strict=True)
    )
    n = len(lines)
    return {
        "data": "hdfs_raw_sample.log.gz",
        "split": ("fit on the first half of the blocks, transform the second half" if held_out
                  else "fit and transform all blocks"),
        "log_format": log_format,
        "fit_sessions": len(fit_sessions),
        "fit_lines": len(fit_lines),
        "sessions": len(sessions),
        "lines": n,
        "templates": len(templater.templates_),
        "drain3_clusters": len(miner.drain.clusters),
        "fit_s": round(fit_s, 2),
        "drain3_add_log_message_s": round(drain3_fit_s, 2),
        "transform_s": round(min(ours), 3),
        "drain3_match_s": round(min(theirs), 3),
        "transform_lines_per_s": round(n / min(ours)),
        "drain3_match_lines_per_s": round(n / min(theirs)),
        "speedup": round(min(theirs) / min(ours), 2),
        "same_template_as_drain3_match": round(agree / n, 4),
        "unknown_share": round(sum(t == UNKNOWN_TEMPLATE for t in flat) / n, 4),
        "drain3_unknown_share": round(sum(m is None for m in matched) / n, 4),
        "repeats": repeats,
        "device": f"cpu ({platform.processor() or platform.machine()}), drain3 one thread, "
                  f"templater {_polars_threads()} thread(s)",
    }


def _polars_threads():
    """Threads of polars' pool (the default engine's), 1 where polars does not import."""
    try:
        import polars as pl
    except ImportError:
        return 1
    return pl.thread_pool_size()


def _engine_datasets(data_dir, bunch=None):
    """``{name: (sessions, log_format)}``: HDFS and BGL raw samples, the 16 loghub 2k samples."""
    hdfs = Path(data_dir) / "hdfs"
    if bunch is None:
        bunch = read_hdfs_raw(hdfs / "hdfs_raw_sample.log.gz", hdfs / "hdfs_raw_sample_labels.csv")
    bgl = read_lines(Path(data_dir) / "bgl" / "bgl_raw_sample.log.gz")
    datasets = {"hdfs_raw_sample": (bunch.data, "HDFS"),
                "bgl_raw_sample": (windows_from_lines(bgl, size=20)[0], "BGL")}
    loghub = Path(data_dir) / "loghub"
    for system in loghub_presets():
        datasets[f"loghub {system}_2k"] = ([read_lines(loghub / system / f"{system}_2k.log")],
                                           system)
    return datasets


#: ``transform`` timings per fitted templater in :func:`engine_comparison` (best kept).
_TRANSFORMS_PER_FIT = 3


def engine_comparison(data_dir, *, repeats=3, bunch=None):
    """Both engines of ``DrainTemplater``, side by side in one process.

    ``engine="python"`` is the line-by-line path (the code before vectorising),
    one thread; ``engine="polars"`` the batch path, on polars' thread pool
    (its size is recorded; run with ``POLARS_MAX_THREADS=1`` for one thread).
    On the HDFS and BGL raw samples each is timed fitting and transforming
    every session (best of ``repeats`` alternating runs, each timing
    ``transform`` ``_TRANSFORMS_PER_FIT`` times) and transforming alone; on
    every dataset (also the 16 loghub 2k samples) the two must give the same
    templates and the same template on every line.
    """
    rows = []
    for name, (sessions, log_format) in _engine_datasets(data_dir, bunch).items():
        n = sum(map(len, sessions))
        timed = name in ("hdfs_raw_sample", "bgl_raw_sample")
        best = {}
        outputs = {}
        for _ in range(repeats if timed else 1):
            for engine in ("python", "polars"):
                templater = DrainTemplater(log_format=log_format, engine=engine)
                start = time.perf_counter()
                templater.fit(sessions)
                fit_s = time.perf_counter() - start
                transform_s = float("inf")
                for _ in range(_TRANSFORMS_PER_FIT if timed else 1):
                    start = time.perf_counter()
                    output = templater.transform(sessions)
                    transform_s = min(transform_s, time.perf_counter() - start)
                start = time.perf_counter()
                same = templater.fit_transform(sessions) == output
                fit_transform_s = time.perf_counter() - start
                old = best.get(engine, (float("inf"),) * 3)
                best[engine] = (min(old[0], fit_s + transform_s), min(old[1], transform_s),
                                min(old[2], fit_transform_s))
                outputs[engine] = (templater.templates_, output, same)
        row = {"data": name, "log_format": log_format, "sessions": len(sessions), "lines": n,
               "templates": len(outputs["polars"][0]),
               "same_templates": outputs["python"][0] == outputs["polars"][0],
               "same_template_on_every_line": outputs["python"][1] == outputs["polars"][1],
               "fit_transform_same_as_transform": outputs["python"][2] and outputs["polars"][2]}
        if timed:
            for engine, (both, transform, fit_transform) in best.items():
                row[f"{engine}_fit_then_transform_lines_per_s"] = round(n / both)
                row[f"{engine}_transform_lines_per_s"] = round(n / transform)
                row[f"{engine}_fit_transform_lines_per_s"] = round(n / fit_transform)
            for k, name in enumerate(("fit_then_transform", "transform", "fit_transform")):
                row[f"{name}_speedup"] = round(best["python"][k] / best["polars"][k], 2)
            row["repeats"] = repeats
            row["polars_threads"] = _polars_threads()
        rows.append(row)
    sessions = (bunch.data if bunch is not None
                else _engine_datasets(data_dir)["hdfs_raw_sample"][0])
    half = len(sessions) // 2
    held_out = sessions[half:]
    fitted = {engine: DrainTemplater(log_format="HDFS", engine=engine).fit(sessions[:half])
              for engine in ("python", "polars")}
    best = {}
    for _ in range(repeats):
        for engine, templater in fitted.items():
            start = time.perf_counter()
            templater.transform(held_out)
            best[engine] = min(best.get(engine, float("inf")), time.perf_counter() - start)
    n = sum(map(len, held_out))
    rows.append({"data": "hdfs_raw_sample, fit on the first half of the blocks, transform "
                         "the other half", "lines": n,
                 "python_held_out_transform_lines_per_s": round(n / best["python"]),
                 "polars_held_out_transform_lines_per_s": round(n / best["polars"]),
                 "held_out_transform_speedup": round(best["python"] / best["polars"], 2),
                 "same_templates": fitted["python"].templates_ == fitted["polars"].templates_,
                 "same_template_on_every_line": (fitted["python"].transform(held_out)
                                                 == fitted["polars"].transform(held_out))})
    return rows


def _engine_markdown(rows):
    timed = [r for r in rows if "transform_speedup" in r]
    out = [f"DrainTemplater engines side by side, one process, best of {timed[0]['repeats']} "
           f"alternating runs, {platform.processor() or platform.machine()}; python: one "
           f"thread, polars: {timed[0]['polars_threads']} thread(s)", "",
           "| data | lines | lines/s of | python | polars | speed-up |",
           "|---|---|---|---|---|---|"] if timed else []
    for r in timed:
        for name, label in (("fit_then_transform", "fit, then transform"),
                            ("transform", "transform"), ("fit_transform", "fit_transform")):
            out.append(
                f"| {r['data']} | {r['lines']} | {label} | {r[f'python_{name}_lines_per_s']} "
                f"| {r[f'polars_{name}_lines_per_s']} | {r[f'{name}_speedup']}x |")
    for r in rows:
        if "held_out_transform_speedup" in r:
            out.append(f"| {r['data']} | {r['lines']} | transform "
                       f"| {r['python_held_out_transform_lines_per_s']} "
                       f"| {r['polars_held_out_transform_lines_per_s']} "
                       f"| {r['held_out_transform_speedup']}x |")
    same = [r for r in rows if r["same_templates"] and r["same_template_on_every_line"]
            and r.get("fit_transform_same_as_transform", True)]
    out += ["", "Same templates, the same template on every line, and fit_transform equal to "
            f"fit then transform: {len(same)} of "
            f"{len(rows)} cases ({sum(r['lines'] for r in same)} lines)"
            + "".join(f"; **differs: {r['data']}**" for r in rows if r not in same), ""]
    return out


def _markdown(accuracy_rows, throughput_rows, engine_rows=()):
    out = _engine_markdown(engine_rows) if engine_rows else []
    if accuracy_rows:
        out += [
            "| system | lines | templates | reference templates | grouping accuracy "
            "| Drain published | fit+transform s |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in accuracy_rows:
            out.append(
                f"| {r['system']} | {r['lines']} | {r['templates']} | {r['reference_templates']} "
                f"| {r['grouping_accuracy']:.4f} | {r['published_drain_accuracy']} "
                f"| {r['fit_transform_s']} |"
            )
        mean = sum(r["grouping_accuracy"] for r in accuracy_rows) / len(accuracy_rows)
        pub = [r["published_drain_accuracy"] for r in accuracy_rows]
        pub_mean = sum(pub) / len(pub) if None not in pub else float("nan")
        out.append(f"| **mean** | | | | **{mean:.4f}** | {pub_mean:.4f} | |")
        out.append("")
    for r in throughput_rows:
        out += [
            f"HDFS raw sample, log_format={r['log_format']!r}, {r['split']}: fit on "
            f"{r['fit_lines']} lines ({r['fit_sessions']} blocks) in {r['fit_s']} s "
            f"(drain3 add_log_message loop {r['drain3_add_log_message_s']} s), "
            f"{r['templates']} templates; transform {r['lines']} lines ({r['sessions']} blocks)",
            "",
            f"| method (best of {r['repeats']}; {r['device']}) | seconds | lines/s |",
            "|---|---|---|",
            f"| DrainTemplater.transform | {r['transform_s']} | {r['transform_lines_per_s']} |",
            f"| drain3 TemplateMiner.match loop | {r['drain3_match_s']} "
            f"| {r['drain3_match_lines_per_s']} |",
            "",
            f"speed-up {r['speedup']}x; same template as drain3 match on "
            f"{r['same_template_as_drain3_match']:.2%} of lines; unknown: "
            f"{r['unknown_share']:.2%} (drain3 match: {r['drain3_unknown_share']:.2%}).",
            "",
        ]
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(_DEFAULT_DATA), help="the shared data folder")
    parser.add_argument("--systems", nargs="*", help="loghub systems (default: all 16)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-engines", action="store_true",
                        help="skip the python vs polars engine comparison")
    parser.add_argument("--whole-line", action="store_true",
                        help="also time log_format=None (whole line as the message)")
    parser.add_argument("--output", help="folder for templating.json and templating.md")
    args = parser.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    accuracy = [] if args.skip_accuracy else loghub_accuracy(args.data, args.systems)
    throughput = []
    hdfs = Path(args.data) / "hdfs"
    bunch = read_hdfs_raw(hdfs / "hdfs_raw_sample.log.gz", hdfs / "hdfs_raw_sample_labels.csv")
    engines = [] if args.skip_engines else engine_comparison(args.data, repeats=args.repeats,
                                                             bunch=bunch)
    if not args.skip_throughput:
        formats = ["HDFS", None] if args.whole_line else ["HDFS"]
        for log_format in formats:
            for held_out in (False, True):
                throughput.append(hdfs_throughput(args.data, log_format=log_format,
                                                  repeats=args.repeats, held_out=held_out,
                                                  bunch=bunch))
    report = _markdown(accuracy, throughput, engines)
    print(report)
    if args.output:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        mean = (sum(r["grouping_accuracy"] for r in accuracy) / len(accuracy)) if accuracy else None
        (out / "templating.json").write_text(json.dumps(
            {"loghub_accuracy": accuracy, "mean_grouping_accuracy": mean,
             "hdfs_throughput": throughput, "engines": engines}, indent=2))
        (out / "templating.md").write_text(report + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
