"""
Adapting to a new system from 20 labelled sessions
==================================================

A detector trained on one system (HDFS) meets a system it never saw (BGL).
Leave-one-system-out with ``k`` target shots
(:class:`~sklog.metrics.FewShotSplit`): the source's labelled sessions, plus
``k`` anomalous and ``k`` normal labelled sessions of the target (the
*support set*); the target's other half is the test part, the same for
every ``k``, and no support session is drawn from it.

Both systems are templated by their own ``DrainTemplater``, fitted without
labels and never on the target's test part. Sessions become Sentence-BERT
template vectors plus structural features; a scaler and a
:class:`~sklog.feature_selection.MutualInfoSelector` are fitted on source and
support rows only. A :class:`~sklog.meta.ProtoNetClassifier` is trained
episodically on the source, then :meth:`~sklog.meta.ProtoNetClassifier.adapt`
moves its prototypes to the target's support set; a logistic regression on
the same features, trained on source + support, is the baseline.
"""

import matplotlib.pyplot as plt
import numpy as np
from imblearn.over_sampling import SMOTE
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler

from sklog.datasets import load_bgl_sample, load_hdfs_sample
from sklog.feature_extraction import BertEmbedder, StructuralFeatures
from sklog.feature_selection import MutualInfoSelector
from sklog.meta import FewShotAdapter, FitMemory, ProtoNetClassifier, tag_sessions
from sklog.metrics import FewShotSplit, evaluate
from sklog.preprocessing import DrainTemplater, loghub_presets

# %%
# Two labelled systems, kept small so the example runs in seconds on a CPU:
# 600 HDFS blocks (stratified) and the 1,500 BGL windows of 20 lines.
hdfs_X, hdfs_y = load_hdfs_sample(return_X_y=True)
keep, _ = train_test_split(np.arange(len(hdfs_y)), train_size=600, stratify=hdfs_y,
                           random_state=0)
hdfs_X, hdfs_y = [hdfs_X[i] for i in keep], hdfs_y[keep]
bgl_X, bgl_y = load_bgl_sample(window=20, return_X_y=True)
X_raw = list(hdfs_X) + list(bgl_X)
y = np.r_[hdfs_y, bgl_y]
system = np.array(["hdfs"] * len(hdfs_y) + ["bgl"] * len(bgl_y))
print({s: (int((system == s).sum()), int(y[system == s].sum())) for s in ("hdfs", "bgl")})

# %%
# The target's test part is fixed by the seed; template each system without
# labels and without those test rows.
pool, test = FewShotSplit("bgl", 0, random_state=0).pool_and_test(y, system)
preset = loghub_presets()["BGL"]
bgl_templater = DrainTemplater(log_format=preset["log_format"].replace("<Label> ", ""),
                               masking=list(preset["masking_regex"]),
                               similarity_threshold=preset["similarity_threshold"],
                               depth=preset["depth"])
templaters = {"hdfs": DrainTemplater(log_format="HDFS"), "bgl": bgl_templater}
X = [None] * len(X_raw)
for name, templater in templaters.items():
    rows = np.flatnonzero(system == name)
    templater.fit([X_raw[i] for i in rows if i not in set(test.tolist())])
    for i, session in zip(rows, templater.transform([X_raw[i] for i in rows]), strict=True):
        X[i] = session
X_test, y_test = tag_sessions([X[i] for i in test], "bgl"), y[test]


def features():
    union = FeatureUnion([("text", BertEmbedder(device="cpu")),
                          ("structure", StructuralFeatures())])
    return make_pipeline(union, StandardScaler(),
                         MutualInfoSelector(k=64, n_estimators=30, random_state=0))


memory = FitMemory()  # both models of a k fit the same features on the same rows: once


def models():
    protonet = ProtoNetClassifier(hidden=(64,), embedding_dim=32, n_episodes=50, max_epochs=10,
                                  device="cpu", random_state=0)
    return {
        "ProtoNet, adapted": FewShotAdapter(features(), protonet, target="bgl",
                                            sampler=SMOTE(random_state=0), memory=memory),
        "LogisticRegression, source + support": FewShotAdapter(
            features(), LogisticRegression(max_iter=2000), sampler=SMOTE(random_state=0),
            memory=memory),
    }


# %%
# No target label (``k = 0``), then 20 anomalous + 20 normal BGL sessions.
results = {}
for k in (0, 20):
    source, support, _ = FewShotSplit("bgl", k, random_state=0).split(y, system)
    train = np.r_[source, support]
    X_train = [tag_sessions([X[i]], system[i])[0] for i in train]
    for name, model in models().items():
        model.fit(X_train, y[train])
        results[name, k] = evaluate(model, X_test, y_test)
        print(f"k={k:2d}  {name:38s}  " + "  ".join(
            f"{m} {results[name, k][m]:.3f}" for m in ("precision", "recall", "f1", "pr_auc")))

# %%
# What 20 labelled sessions per class buy on the target's test part (its
# natural anomaly ratio).
fig, ax = plt.subplots(figsize=(6, 3.5))
names = list(models())
width = 0.35
for j, k in enumerate((0, 20)):
    ax.bar(np.arange(len(names)) + (j - 0.5) * width, [results[n, k]["f1"] for n in names],
           width, label=f"k = {k}")
ax.set_xticks(np.arange(len(names)), names)
ax.set_ylabel("F1 on the BGL test part")
ax.set_ylim(0, 1)
ax.legend()
fig.tight_layout()
