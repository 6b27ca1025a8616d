"""Robustness to log evolution and drift detection: ``python -m sklog.benchmarks.evolution``.

Trains a :class:`~sklog.SiameseClassifier` on the training part of the
``hdfs_deeplog``/``supervised`` split (deduplicated, stratified 90/10, the
benchmark contract), fits a :class:`~sklog.drift.DriftMonitor` on the
training embeddings, then applies LogRobust's synthetic evolution
(:func:`~sklog.datasets.evolve_sessions`) to 0, 5, 10, 20 and 30 % of the test
sessions and reports, per ratio, F1 (anomaly positive) and the fitness score
(mean log-likelihood of the test embeddings under the training mixture).
The test part is only scored; nothing is tuned on it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RATIOS = (0.0, 0.05, 0.10, 0.20, 0.30)


def run(data_dir=None, seed=0, ratios=RATIOS, estimator_params=None, quick=False):
    """Rows ``{ratio, f1, precision, recall, fitness, needs_retraining}`` for each ratio."""
    from ..datasets import evolve_sessions
    from ..drift import DriftMonitor
    from ..metrics import evaluate
    from ..siamese import SiameseClassifier
    from ._data import DatasetCache, default_data_dir, make_split

    data_dir = data_dir or default_data_dir()
    split = make_split("hdfs_deeplog", "supervised", DatasetCache(data_dir).get("hdfs_deeplog"),
                       seed, quick=quick)
    clf = SiameseClassifier(random_state=seed, **(estimator_params or {}))
    start = time.perf_counter()
    clf.fit(split.X_train, split.y_train)
    fit_seconds = time.perf_counter() - start
    monitor = DriftMonitor(clf, random_state=seed).fit(split.X_train)
    rows = []
    for ratio in ratios:
        X_test, changed = evolve_sessions(split.X_test, ratio, random_state=seed)
        result = evaluate(clf, X_test, split.y_test)
        rows.append({
            "ratio": ratio, "n_evolved": int(changed.sum()),
            "f1": result["f1"], "precision": result["precision"], "recall": result["recall"],
            "pr_auc": result["pr_auc"], "fitness": monitor.fitness_score(X_test),
            "needs_retraining": monitor.needs_retraining(X_test),
        })
    meta = {"dataset": "hdfs_deeplog", "protocol": "supervised", "seed": seed,
            "split": split.info, "fit_seconds": fit_seconds, "n_pairs": clf.n_pairs_,
            "epochs": len(clf.net_.history), "estimator": repr(clf),
            "drift_threshold": monitor.threshold_, "device": str(clf.net_.device)}
    return rows, meta


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sklog.benchmarks.evolution",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmark_results")
    args = parser.parse_args(argv)
    rows, meta = run(args.data_dir, args.seed)
    lines = ["| evolution ratio | evolved | F1 | precision | recall | fitness | retrain? |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['ratio']:.0%} | {r['n_evolved']} | {r['f1']:.4f} | "
                     f"{r['precision']:.4f} | {r['recall']:.4f} | {r['fitness']:.2f} | "
                     f"{'yes' if r['needs_retraining'] else 'no'} |")
    fitness = [r["fitness"] for r in rows]
    monotone = all(b < a for a, b in zip(fitness, fitness[1:], strict=False))
    lines.append("")
    lines.append(f"fitness falls monotonically: {monotone}; drift threshold "
                 f"{meta['drift_threshold']:.2f}; fit {meta['fit_seconds']:.0f} s")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evolution.json").write_text(json.dumps({"rows": rows, "meta": meta}, indent=2,
                                                   default=float))
    (out / "evolution.md").write_text("# Siamese LSTM under synthetic log evolution\n\n"
                                      + table + "\n")
    return 0 if monotone else 1


if __name__ == "__main__":
    raise SystemExit(main())
