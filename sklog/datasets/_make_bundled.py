"""Build the samples bundled in ``sklog/datasets/data`` from the real logs (run once).

The package ships small, real, labeled samples so that ``load_*`` works
offline. They are cut from the development copy of the public data
(``../shared/data``, see its README) by this script, deterministically: a
fixed seed, fixed rules, and gzip members written with ``mtime=0``, so running
it twice gives byte-identical files::

    python -m sklog.datasets._make_bundled --source ../shared/data

What it writes (the total stays well under the 5 MB budget):

- ``hdfs_sample.log.gz`` / ``hdfs_sample_labels.csv.gz``: every line, in the
  original order, of ``HDFS_BLOCKS`` blocks drawn uniformly at random (seed
  ``SEED``) from ``hdfs/hdfs_raw_sample.log.gz``, and their ``BlockId,Label``
  rows. No stratification: the natural anomaly ratio (about 3 %) is kept.
- ``bgl_sample.log.gz``: ``BGL_LINES`` consecutive, time-ordered lines of
  ``bgl/bgl_raw_sample.log.gz`` (label column kept). Alerts come in bursts, so
  the slice is the one (starts on a multiple of ``BGL_STEP``) whose alert rate
  is closest to the rate of the whole file, ties to the earliest.
- ``loghub_2k_<System>.log.gz`` and ``loghub_2k_<System>_structured.csv.gz``:
  the 16 loghub 2k samples and their reference templates, unchanged;
  ``loghub_2k_drain_accuracy.json`` (Drain's published grouping accuracy per
  system) and ``loghub_LICENSE`` (the notice loghub requires with every copy).
- ``descr/loghub_2k_<System>.md``: each system's loghub README (citations).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
from pathlib import Path

import numpy as np

SEED = 0
HDFS_BLOCKS = 4000
BGL_LINES = 30_000
BGL_STEP = 1000
HERE = Path(__file__).resolve().parent
BLOCK = re.compile(rb"blk_-?\d+")


def _write_gz(path, payload: bytes):
    """Gzip with a fixed header (no name, mtime 0) so rebuilds are byte-identical."""
    with open(path, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0
    ) as gz:
        gz.write(payload)


def _gz_lines(path):
    with gzip.open(path, "rb") as f:
        return f.read().splitlines(keepends=True)


def make_hdfs(source, out):
    lines = _gz_lines(source / "hdfs" / "hdfs_raw_sample.log.gz")
    blocks = []
    seen = set()
    for line in lines:
        for blk in BLOCK.findall(line):
            if blk not in seen:
                seen.add(blk)
                blocks.append(blk)
    rng = np.random.default_rng(SEED)
    chosen = {blocks[i] for i in rng.choice(len(blocks), size=HDFS_BLOCKS, replace=False)}
    kept = [line for line in lines if any(b in chosen for b in BLOCK.findall(line))]
    # A kept line may name a block that was not drawn; give such blocks a label too.
    in_sample = []
    names = set()
    for line in kept:
        for blk in BLOCK.findall(line):
            if blk not in names:
                names.add(blk)
                in_sample.append(blk.decode())
    labels = {}
    with open(source / "hdfs" / "hdfs_raw_sample_labels.csv", encoding="utf-8") as f:
        next(f)
        for row in f:
            blk, label = row.strip().split(",")
            labels[blk] = label
    table = "BlockId,Label\n" + "".join(f"{b},{labels[b]}\n" for b in in_sample)
    _write_gz(out / "hdfs_sample.log.gz", b"".join(kept))
    _write_gz(out / "hdfs_sample_labels.csv.gz", table.encode())
    n_anom = sum(labels[b] == "Anomaly" for b in in_sample)
    print(f"hdfs: {len(kept)} lines, {len(in_sample)} blocks, {n_anom} anomalous")


def make_bgl(source, out):
    lines = _gz_lines(source / "bgl" / "bgl_raw_sample.log.gz")
    alerts = np.array([not line.startswith(b"-") for line in lines], dtype=float)
    overall = alerts.mean()
    cum = np.concatenate([[0.0], np.cumsum(alerts)])
    starts = np.arange(0, len(lines) - BGL_LINES + 1, BGL_STEP)
    rates = (cum[starts + BGL_LINES] - cum[starts]) / BGL_LINES
    start = int(starts[np.argmin(np.abs(rates - overall))])
    sliced = lines[start:start + BGL_LINES]
    _write_gz(out / "bgl_sample.log.gz", b"".join(sliced))
    n_alert = int(alerts[start:start + BGL_LINES].sum())
    print(f"bgl: lines {start}..{start + BGL_LINES} of {len(lines)}, {n_alert} alerts "
          f"(rate {n_alert / BGL_LINES:.3f}, whole file {overall:.3f})")


def make_loghub_2k(source, out, descr):
    root = source / "loghub"
    systems = sorted(p.name for p in root.iterdir() if p.is_dir())
    for system in systems:
        folder = root / system
        _write_gz(out / f"loghub_2k_{system}.log.gz", (folder / f"{system}_2k.log").read_bytes())
        shutil.copyfile(folder / f"{system}_2k.log_structured.csv.gz",
                        out / f"loghub_2k_{system}_structured.csv.gz")
        shutil.copyfile(folder / "README.md", descr / f"loghub_2k_{system}.md")
    # The parser settings ship with the templater (sklog.preprocessing.loghub_presets);
    # only Drain's published accuracy per system is kept here.
    settings = json.loads((root / "settings.json").read_text(encoding="utf-8"))
    accuracy = {s: settings[s]["drain_grouping_accuracy"] for s in sorted(settings)}
    (out / "loghub_2k_drain_accuracy.json").write_text(json.dumps(accuracy, indent=1) + "\n",
                                                      encoding="utf-8")
    shutil.copyfile(root / "LICENSE", out / "loghub_LICENSE")
    print(f"loghub 2k: {len(systems)} systems: {', '.join(systems)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=HERE.parents[2] / "shared" / "data",
                        help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--out", type=Path, default=HERE / "data")
    parser.add_argument("--descr", type=Path, default=HERE / "descr")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.descr.mkdir(parents=True, exist_ok=True)
    make_hdfs(args.source, args.out)
    make_bgl(args.source, args.out)
    make_loghub_2k(args.source, args.out, args.descr)
    total = sum(p.stat().st_size for d in (args.out, args.descr) for p in d.iterdir())
    print(f"bundled total: {total / 1e6:.2f} MB")


if __name__ == "__main__":  # pragma: no cover
    main()
