"""Adversarial-line benchmark: ``python -m sklog.benchmarks.adversarial``.

For every loghub preset, :class:`~sklog.preprocessing.DrainTemplater` is
fitted on that system's bundled 2k sample and then templates ``--lines``
lines of ``--length`` random printable ASCII characters (space to ``~``,
seeded) in one ``transform`` call (``--repeats`` times, the fastest
reported), in one process (one core). Reported per preset: lines/s of that
``transform`` (header matching, masking, template lookup) and of header
matching alone (the compiled ``log_format`` on each stripped line), both from
the process's CPU time (so that other work on a shared machine does not
count; wall seconds are reported too), the share of lines that fit the
header, the share mapped to ``<unknown template>``, and the CPU time the
preset's masking regexes take line by line with Python's ``re`` (what the
batch engine of ``transform`` avoids).

Random text seldom fits a header all the way: LogPAI's lazy ``(.*?)`` header
fields then tried every split of the line, minutes to hours for some 10 kB
lines; the fields of :func:`~sklog.preprocessing.log_format_regex` match in
time linear in the line length. Results are printed as Markdown and, with
``--output``, written as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from ..datasets import load_loghub_2k
from ..preprocessing import UNKNOWN_TEMPLATE, DrainTemplater, log_format_regex, loghub_presets
from ..preprocessing._drain import WILDCARD

#: The lines/s every preset must reach on 10 kB random lines (issue 14).
TARGET_LINES_PER_S = 10_000


def random_printable_lines(n_lines, length, seed=0):
    """``n_lines`` strings of ``length`` random printable ASCII characters (32-126).

    Examples
    --------
    >>> from sklog.benchmarks.adversarial import random_printable_lines
    >>> lines = random_printable_lines(2, 5)
    >>> [len(line) for line in lines], all(line.isprintable() for line in lines)
    ([5, 5], True)
    """
    codes = np.random.default_rng(seed).integers(32, 127, size=(n_lines, length), dtype=np.uint8)
    return [row.tobytes().decode("ascii") for row in codes]


def _timed(function, *args):
    """``function(*args)``, its CPU seconds and its wall seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _count_fits(header_match, lines):
    return sum(header_match(line.strip()) is not None for line in lines)


def _mask(subs, texts):
    for sub in subs:
        texts = [sub(WILDCARD, text) for text in texts]
    return texts


def adversarial_throughput(lines, systems=None, repeats=1):
    """One row per loghub preset: lines/s of ``transform`` and of header matching on ``lines``.

    Each templater is fitted on the preset's bundled 2k sample first (not timed).
    Lines/s are computed from CPU time; ``transform`` is timed ``repeats``
    times and its fastest run is reported (the machine's speed drifts between
    runs; the fastest is the least disturbed). ``masking_cpu_s`` is the time
    the preset's masking regexes take with Python's ``re`` on the messages
    (the whole line where the header does not fit), the line-by-line engine's
    cost that the batch engine avoids.
    """
    rows = []
    for system in systems or list(loghub_presets()):
        templater = DrainTemplater(log_format=system).fit([load_loghub_2k(system).lines])
        header = log_format_regex(templater.log_format_).match
        fits, header_s, header_wall_s = _timed(_count_fits, header, lines)
        contents, subs = templater._stages()
        _, masking_s, _ = _timed(_mask, subs, contents(lines))
        (templates,), transform_s, transform_wall_s = min(
            (_timed(templater.transform, [lines]) for _ in range(repeats)),
            key=lambda timed: timed[1])
        rows.append({
            "system": system,
            "lines": len(lines),
            "line_length": max(map(len, lines), default=0),
            "header_fits": round(fits / len(lines), 4),
            "unknown_share": round(sum(t == UNKNOWN_TEMPLATE for t in templates) / len(lines),
                                   4),
            "header_cpu_s": round(header_s, 3),
            "header_wall_s": round(header_wall_s, 3),
            "header_lines_per_s": round(len(lines) / header_s),
            "masking_cpu_s": round(masking_s, 3),
            "transform_cpu_s": round(transform_s, 3),
            "transform_wall_s": round(transform_wall_s, 3),
            "transform_lines_per_s": round(len(lines) / transform_s),
            "transform_repeats": repeats,
            "device": f"cpu, 1 core ({platform.processor() or platform.machine()})",
        })
    return rows


def _markdown_row(r):
    return (f"| {r['system']} | {r['lines']} | {r['line_length']} | {r['header_fits']:.2%} "
            f"| {r['unknown_share']:.2%} | {r['header_cpu_s']} ({r['header_wall_s']}) "
            f"| {r['header_lines_per_s']} | {r['masking_cpu_s']} "
            f"| {r['transform_cpu_s']} ({r['transform_wall_s']}) "
            f"| {r['transform_lines_per_s']} |")


_HEADER = [
    "| preset | lines | line length | fit the header | unknown | header CPU s (wall) "
    "| header lines/s | masking CPU s | transform CPU s (wall) | transform lines/s |",
    "|---|---|---|---|---|---|---|---|---|---|",
]


def _slowest(rows, step):
    slowest = min(rows, key=lambda r: r[f"{step}_lines_per_s"])
    rate = slowest[f"{step}_lines_per_s"]
    verdict = "meets" if rate >= TARGET_LINES_PER_S else "misses"
    return f"Slowest {step}: {slowest['system']}, {rate} lines/s ({verdict} the target)."


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=10_000, help="characters per line")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3,
                        help="transform runs per preset; the fastest is reported")
    parser.add_argument("--systems", nargs="*", help="loghub presets (default: all 16)")
    parser.add_argument("--output", help="folder for adversarial.json and adversarial.md")
    args = parser.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    lines = random_printable_lines(args.lines, args.length, args.seed)
    print(f"{args.lines} lines of {args.length} random printable ASCII characters "
          f"(seed {args.seed}), one core, fastest of {args.repeats} transforms; target: "
          f"{TARGET_LINES_PER_S} lines/s per preset\n")
    print("\n".join(_HEADER), flush=True)
    rows = []
    for system in args.systems or list(loghub_presets()):
        (row,) = adversarial_throughput(lines, [system], repeats=args.repeats)
        rows.append(row)
        print(_markdown_row(row), flush=True)
    summary = " ".join(_slowest(rows, key) for key in ("header", "transform"))
    print("\n" + summary)
    if args.output:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "adversarial.json").write_text(json.dumps(
            {"lines": args.lines, "line_length": args.length, "seed": args.seed,
             "target_lines_per_s": TARGET_LINES_PER_S, "rows": rows}, indent=2))
        (out / "adversarial.md").write_text(
            "\n".join([*_HEADER, *map(_markdown_row, rows), "", summary]) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
