"""``sklog demo`` (and ``make demo``): every available method on the bundled HDFS sample.

Offline and CPU-only, in a few minutes on two cores: the bundled raw HDFS
sample (4,000 blocks) is split 80/20, stratified and seeded; each method is a
``DrainTemplater(log_format="HDFS") -> model`` pipeline fitted through the
benchmark harness (detectors on normal training blocks only, classifiers on
all training blocks, the test part scored once). Neural methods run with
small, labelled demo settings (few epochs) so the demo stays fast: their
numbers are a smoke test, the benchmark has the real ones.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def demo_label(method):
    """A method's row label in the demo: its label, with the demo settings when it has any."""
    if not method.demo_params:
        return method.label
    settings = ", ".join(f"{k}={v}" for k, v in method.demo_params.items())
    return f"{method.label} (demo: {settings})"


def demo_cells():
    """The demo's rows as benchmark cells.

    One per method of :data:`sklog.methods.METHODS` that has ``demo_params``,
    skipping methods this build does not have.
    """
    from .benchmarks import BenchmarkCell
    from .methods import METHODS

    cells = []
    for method in METHODS.values():
        if method.demo_params is None:
            continue
        try:
            method.load_factory()
        except ImportError:
            continue

        def build(random_state, method=method):
            return method.build_pipeline(log_format="HDFS", random_state=random_state,
                                         **method.demo_params)

        cells.append(BenchmarkCell("hdfs_sample", "natural", demo_label(method), build, True,
                                   method.threshold_rule, method.name))
    return cells


def _plot(results, split, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    shown = [(row, scores) for row, _, scores in results if scores is not None]
    n = max(len(shown), 1)
    ncols = min(3, n)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    y_true = np.asarray(split.y_test) == 1
    base = y_true.mean()
    for ax, (row, scores) in zip(axes.flat, shown, strict=False):
        precision, recall, _ = precision_recall_curve(y_true, scores)
        ax.plot(recall, precision, color="C0", drawstyle="steps-post")
        ax.axhline(base, color="0.6", linestyle=":", linewidth=1, label=f"chance ({base:.3f})")
        ax.plot([row["recall"]], [row["precision"]], "o", color="C3",
                label=f"threshold: F1 {row['f1']:.2f}")
        ax.set_title(f"{row['method']}\nPR-AUC {row['pr_auc']:.3f}", fontsize=9)
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("recall (anomaly)")
        ax.set_ylabel("precision")
        ax.legend(loc="lower left", fontsize=7)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.suptitle(f"sklog demo: bundled HDFS sample, test {len(y_true)} blocks "
                 f"({int(y_true.sum())} anomalous)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _trace(results, split, hdfs, *, top=8, write=print):
    """Print one detected anomalous test block with its raw lines and the lines that drove it."""
    from .inspection import score_sessions

    explained = []
    for row, model, scores in results:
        if model is None or scores is None or row["error"]:
            continue
        explained.append((row["f1"], row, model, scores))
    explained.sort(key=lambda t: -t[0])
    y_test = np.asarray(split.y_test)
    hits = np.flatnonzero(y_test == 1)
    for _, row, model, scores in explained:
        if not len(hits):
            break
        is_anomaly, _, weights_of = score_sessions(model, [split.X_test[i] for i in hits],
                                                   explain=True)
        flagged = hits[is_anomaly]
        pool = flagged if len(flagged) else hits
        # a block long enough that the marked lines stand out from the rest, if any
        long = pool[[len(split.X_test[i]) > top + 2 for i in pool]]
        pool = long if len(long) else pool
        i = int(pool[np.argmax(scores[pool])])
        session = split.X_test[i]
        weights = None if weights_of is None else weights_of[int(np.searchsorted(hits, i))]
        if weights is None:
            continue
        k = int(split.test_index[i])
        numbers = np.asarray(hdfs.line_indices[k]) + 1
        detected = len(flagged) > 0
        write(f"\nAn anomalous test block traced to its raw lines ({row['method']}, "
              f"{'flagged as anomaly' if detected else 'highest-scored anomaly, not flagged'}):")
        # lines that pushed towards the anomaly, at most `top` (a tree gives most lines 0)
        marked = {j for j in np.argsort(-weights, kind="stable")[:top].tolist()
                  if weights[j] > 0}
        write(f"block {hdfs.session_ids[k]}  label anomaly  {len(session)} lines; "
              f"* marks the {len(marked)} line(s) that pushed the score towards an anomaly most")
        shown = sorted(marked | {0, 1, 2, len(session) - 1} & set(range(len(session))))
        previous = -1
        for j in shown:
            if j > previous + 1:
                write(f"   ... {j - previous - 1} more line(s)")
            flag = "*" if j in marked else " "
            write(f" {flag} line {numbers[j]:>6}  weight {weights[j]:8.3g}  {session[j]}")
            previous = j
        return
    write("\n(no method with an explain() to trace an anomalous block)")


def run_demo(out="sklog_demo.png", seed=0, methods=None, *, write=print):
    """Fit every demo method on the bundled HDFS sample; print the table; write the figure.

    Returns
    -------
    rows : list of dict
        The benchmark rows (one per method).
    """
    from .benchmarks import make_split, markdown_table, run_cell, select_cells, summarize
    from .datasets import load_hdfs_sample

    try:
        import torch

        torch.set_num_threads(min(2, torch.get_num_threads()))
    except ImportError:  # pragma: no cover
        pass
    start = time.perf_counter()
    hdfs = load_hdfs_sample()
    data = {"X": hdfs.data, "y": np.asarray(hdfs.target),
            "source": "sklog.datasets.load_hdfs_sample()"}
    split = make_split("hdfs_raw", "natural", data, seed)
    split.dataset = "hdfs_sample"
    write(f"sklog demo: bundled HDFS sample, {len(hdfs.data)} blocks "
          f"({int(np.sum(hdfs.target))} anomalous); stratified 80/20 split, seed {seed}: "
          f"{len(split.X_train)} training blocks, {len(split.X_test)} test blocks "
          f"({split.info['n_test_anomalies']} anomalous)")
    cells = select_cells(demo_cells(), methods=methods)
    results = []
    for n, cell in enumerate(cells, 1):
        write(f"[{n}/{len(cells)}] fitting {cell.method} ...")
        row, model, scores = run_cell(cell, split, seed, keep=True)
        results.append((row, model, None if scores is None else np.asarray(scores)))
        write(f"      F1 {row['f1']:.3f}, PR-AUC {row['pr_auc']:.3f}, fit {row['fit_seconds']:.1f}s"
              if not row["error"] else f"      error: {row['error']}")
    rows = [r for r, _, _ in results]
    write("\n" + markdown_table(summarize(rows)))
    ok = [(r, m, s) for r, m, s in results if not r["error"]]
    _plot(ok, split, out)
    write(f"wrote {out} (precision-recall curve per method, dot = the method's own threshold)")
    _trace(ok, split, hdfs, write=write)
    write(f"\ndemo finished in {time.perf_counter() - start:.0f}s")
    if not ok:
        print("sklog demo: every method failed", file=sys.stderr)
    return rows
