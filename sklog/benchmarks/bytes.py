"""Compressed-bytes benchmark: ``python -m sklog.benchmarks.bytes [--data-dir ../shared/data]``.

Two measurements on the raw HDFS sample (one session per block, as
:func:`~sklog.datasets.read_hdfs_raw` cuts it; the bundled
:func:`~sklog.datasets.load_hdfs_sample` when the shared data is absent):

1. :class:`~sklog.preprocessing.ByteWindower` per codec: zstd with a
   dictionary trained in ``fit``, zstd without one, gzip, lz4 (when installed)
   and none (raw bytes). ``fit`` on the first half of the blocks, ``transform``
   of the other half timed (best of ``--repeats``); compression ratio (raw
   session bytes / compressed bytes), frame lengths, sessions/s, and how many
   frames exceed ``max_bytes=1024``.
2. **Framed archives**: :func:`~sklog.preprocessing.write_framed_log` of the
   whole log file, sessions by block, with and without a trained dictionary,
   and in windows of 20 lines: write time, archive size against the log and
   against the log compressed as one zstd stream at the same level, the time
   to iterate every frame (:func:`~sklog.preprocessing.iter_frames`, CRC32
   checked, nothing decompressed), to turn them into model input
   (``ByteWindower(input="compressed")``), and to decompress one session
   (:func:`~sklog.preprocessing.read_frame_lines`, reading the index, and with
   the index already read).

Results are printed as JSON and Markdown and, with ``--output``, written as
``bytes.json`` and ``bytes.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from ._data import default_data_dir


def _hdfs(data_dir):
    """``(sessions, lines, source, log path or None)``."""
    from ..datasets import load_hdfs_sample, read_hdfs_raw

    log = None if data_dir is None else Path(data_dir) / "hdfs" / "hdfs_raw_sample.log.gz"
    if log is not None and log.is_file():
        bunch = read_hdfs_raw(log, log.with_name("hdfs_raw_sample_labels.csv"))
        return bunch.data, bunch.lines, str(log), log
    bunch = load_hdfs_sample()
    return bunch.data, bunch.lines, "sklog.datasets.load_hdfs_sample()", None


def _best(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def _device():
    return f"CPU, one process ({platform.processor() or platform.machine()})"


def windower_rows(sessions, *, max_bytes=1024, repeats=3):
    """One row per codec setting: ByteWindower fitted on the first half, timed on the rest."""
    from ..preprocessing import ByteWindower, session_bytes

    half = len(sessions) // 2
    train, test = sessions[:half], sessions[half:]
    raw = np.array([len(session_bytes(s)) for s in test])
    settings = [("zstd", "train"), ("zstd", None), ("gzip", None), ("lz4", None), (None, None)]
    rows = []
    for codec, dictionary in settings:
        if codec == "lz4":
            try:
                import lz4.frame  # noqa: F401
            except ImportError:
                continue
        wide = ByteWindower(codec=codec, dictionary=dictionary, max_bytes=1 << 16)
        start = time.perf_counter()
        wide.fit(train)
        fit_s = time.perf_counter() - start
        transform_s, out = _best(lambda w=wide: w.transform(test), repeats)
        lengths = (out >= 0).sum(axis=1)
        windower = ByteWindower(codec=codec, dictionary=dictionary, max_bytes=max_bytes)
        rows.append({
            "codec": "none" if codec is None else codec,
            "dictionary": ("trained, 16 KiB" if wide.dictionary_ is not None else "none")
            if codec == "zstd" else "-",
            "level": wide.level_,
            "fit_s": round(fit_s, 3),
            "transform_s": round(transform_s, 3),
            "sessions_per_s": round(len(test) / transform_s),
            "compression_ratio": round(float(raw.sum() / lengths.sum()), 2),
            "mean_frame_bytes": round(float(lengths.mean()), 1),
            "p99_frame_bytes": int(np.percentile(lengths, 99)),
            "max_frame_bytes": int(lengths.max()),
            f"truncated_at_{max_bytes}": int((lengths > max_bytes).sum()),
            "params": repr(windower),
        })
    return rows, {"train_sessions": half, "test_sessions": len(test),
                  "test_raw_bytes": int(raw.sum()), "mean_raw_session_bytes":
                  round(float(raw.mean()), 1)}


def archive_rows(lines, log_path, *, repeats=3, level=3):
    """Write, iterate and read a framed archive of the log (blocks; windows of 20 lines)."""
    import zstandard

    from ..preprocessing import (
        HDFS_BLOCK_KEY,
        ByteTruncationWarning,
        ByteWindower,
        iter_frames,
        read_frame_lines,
        write_framed_log,
    )

    source = log_path if log_path is not None else lines
    log_bytes = "".join(line + "\n" for line in lines).encode() if log_path is None else None
    if log_bytes is None:
        from ..preprocessing import open_log

        with open_log(log_path) as fh:
            log_bytes = fh.read()
    plain = len(zstandard.ZstdCompressor(level=level).compress(log_bytes))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.zst"
        for name, cut in [("blocks, trained dictionary", {"session_key": HDFS_BLOCK_KEY,
                                                          "dictionary": "train"}),
                          ("blocks, no dictionary", {"session_key": HDFS_BLOCK_KEY}),
                          ("windows of 20 lines, no dictionary", {"window": 20})]:
            start = time.perf_counter()
            index = write_framed_log(source, path, level=level, **cut)
            write_s = time.perf_counter() - start
            n = len(index.session_ids)
            iter_s, frames = _best(lambda: [f for _, f in iter_frames(path)], repeats)
            windower = ByteWindower(input="compressed", dictionary=index.dictionary).fit(
                frames[:1])

            def to_bytes(frames=frames, windower=windower):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ByteTruncationWarning)
                    return windower.transform(frames)

            input_s, _ = _best(to_bytes, repeats)
            one = index.session_ids[n // 2]
            read_s, _ = _best(lambda one=one: read_frame_lines(path, one), repeats)
            given_s, _ = _best(lambda one=one, index=index: read_frame_lines(path, one,
                                                                               index=index),
                               repeats)
            size = path.stat().st_size
            rows.append({
                "archive": name,
                "layout": index.layout,
                "sessions": n,
                "write_s": round(write_s, 2),
                "archive_bytes": size,
                "log_bytes": len(log_bytes),
                "ratio_to_log": round(len(log_bytes) / size, 2),
                "size_vs_plain_zst": round(size / plain, 2),
                "session_frame_bytes": int(index.lengths.sum()),
                "iter_frames_s": round(iter_s, 3),
                "iter_frames_sessions_per_s": round(n / iter_s),
                "frames_to_model_input_s": round(input_s, 3),
                "read_one_session_ms": round(1000 * read_s, 2),
                "read_one_session_index_given_ms": round(1000 * given_s, 2),
            })
    return rows, plain


def bytes_benchmark(data_dir=None, *, repeats=3, max_bytes=1024):
    sessions, lines, source, log_path = _hdfs(data_dir)
    windower, split = windower_rows(sessions, max_bytes=max_bytes, repeats=repeats)
    archives, plain = archive_rows(lines, log_path, repeats=repeats)
    return {
        "data": source,
        "sessions": len(sessions),
        "lines": len(lines),
        "split": f"ByteWindower: fit on the first {split['train_sessions']} blocks, transform "
                 f"of the other {split['test_sessions']} timed; archives: the whole log",
        **split,
        "plain_zst_bytes": plain,
        "repeats": repeats,
        "seed": None,
        "device": _device(),
        "windower": windower,
        "archives": archives,
    }


def _markdown(result):
    truncated = next(c for c in result["windower"][0] if c.startswith("truncated_at_"))
    w_cols = ["codec", "dictionary", "level", "compression_ratio", "mean_frame_bytes",
              "p99_frame_bytes", "max_frame_bytes", truncated, "fit_s", "transform_s",
              "sessions_per_s"]
    a_cols = ["archive", "layout", "sessions", "write_s", "archive_bytes", "ratio_to_log",
              "size_vs_plain_zst", "iter_frames_s", "iter_frames_sessions_per_s",
              "frames_to_model_input_s", "read_one_session_ms",
              "read_one_session_index_given_ms"]
    lines = [
        f"ByteWindower on {result['data']} ({result['sessions']} blocks, {result['lines']} "
        f"lines): {result['split']}; mean raw session {result['mean_raw_session_bytes']} "
        f"bytes; {result['device']}, best of {result['repeats']}",
        "",
        "| " + " | ".join(w_cols) + " |",
        "|" + "---|" * len(w_cols),
    ]
    lines += ["| " + " | ".join(str(r[c]) for c in w_cols) + " |" for r in result["windower"]]
    lines += [
        "",
        f"Framed archives of the whole log ({result['lines']} lines; the log as one zstd "
        f"stream at level 3: {result['plain_zst_bytes']} bytes)",
        "",
        "| " + " | ".join(a_cols) + " |",
        "|" + "---|" * len(a_cols),
    ]
    lines += ["| " + " | ".join(str(r[c]) for c in a_cols) + " |" for r in result["archives"]]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None,
                        help="the shared data folder (default: $SKLOG_SHARED_DATA or "
                             "../shared/data; else the bundled HDFS sample)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-bytes", type=int, default=1024)
    parser.add_argument("--output", help="folder for bytes.json and bytes.md")
    args = parser.parse_args(argv)
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    result = bytes_benchmark(data_dir, repeats=args.repeats, max_bytes=args.max_bytes)
    report = _markdown(result)
    print(json.dumps(result, indent=2))
    print()
    print(report)
    if args.output:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bytes.json").write_text(json.dumps(result, indent=2))
        (out / "bytes.md").write_text(report)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
