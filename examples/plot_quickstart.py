"""
Quickstart: templates, a detector, scores on real HDFS logs
===========================================================

Cut raw HDFS lines into one session per block, mine templates with Drain,
count them, and fit an unsupervised detector on normal sessions only. The
score histogram shows how far anomalous blocks sit from normal ones.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklog.baselines import PCADetector
from sklog.datasets import load_hdfs_sample
from sklog.metrics import NormalOnlySplit, evaluate
from sklog.preprocessing import DrainTemplater

data = load_hdfs_sample()
X, y = data.data, data.target
print(f"{len(X)} blocks, {y.sum()} anomalous, {len(data.lines)} raw lines")

# %%
# Train on normal training sessions only; the test part keeps the natural ratio.
train, test = next(NormalOnlySplit(test="natural", random_state=0).split(X, y))
X_train = [X[i] for i in train]
X_test, y_test = [X[i] for i in test], y[test]

detector = make_pipeline(DrainTemplater(log_format="HDFS"), PCADetector())
detector.fit(X_train)
print({k: round(v, 3) for k, v in evaluate(detector, X_test, y_test).items()})
print(f"{len(detector[0].templates_)} templates mined")

# %%
# Scores: higher means more normal; the threshold was set on training data.
scores = detector.score_samples(X_test)
threshold = detector[-1].offset_
fig, ax = plt.subplots(figsize=(6, 3.5))
bins = np.linspace(scores.min(), scores.max(), 40)
ax.hist(scores[y_test == 0], bins=bins, alpha=0.7, label="normal", log=True)
ax.hist(scores[y_test == 1], bins=bins, alpha=0.7, label="anomaly", log=True)
ax.axvline(threshold, color="k", linestyle="--", label="threshold (training data)")
ax.set_xlabel("score_samples (higher = more normal)")
ax.set_ylabel("blocks")
ax.legend()
fig.tight_layout()

# %%
# Trace one detected anomaly back to its raw lines.
flagged = np.flatnonzero(detector.predict(X_test) == -1)
if len(flagged):
    block = test[flagged[0]]
    print("block", data.session_ids[block])
    for i in data.line_indices[block][:10]:
        print("   ", data.lines[i])
