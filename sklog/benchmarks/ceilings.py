"""What the data allows: the best F1 *any* model could reach from what it is allowed to see.

``python -m sklog.benchmarks.ceilings [--data-dir DIR]``

A detector that maps every template unseen in training to one
out-of-vocabulary id (GUIDE §1) cannot tell apart two test sessions that
become the same id sequence. Grouping the test sessions by that sequence and
labelling each group optimally, *using the test labels themselves*, gives an
upper bound on the F1 of every such model. These are analyses of the data,
not models: they read test labels by design and choose nothing.

Semantic template vectors give every unseen template a vector of its own, so
a model *could* tell all test sessions apart; what they offer in practice is
that an unseen template lands near the training templates it resembles. The
semantic ceilings read every unseen template as its nearest training
template by Sentence-BERT cosine (optionally only above a similarity, else
as the out-of-vocabulary id): the bound of every model that generalises from
a training template to the unseen ones that read like it.

On ``mlad_balanced`` (detectors fitted on normal windows only, tested 1:1)
the same ceilings say how separable the test windows are; the normal-only
rules say what a detector reaches that decides from the normal training
windows alone, with no threshold to choose: "this set of templates never
occurred together in a normal window", "this template occurs more often than
in any normal window", "this run of a template follows the one before it (or
starts or ends the window) as in no normal window". They read no test label
and choose nothing, so they are the bar a learned detector with a threshold
from training data has to clear.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from itertools import groupby

import numpy as np

from ..utils import TransitionMemory

__all__ = ["f1_ceiling", "bgl_ceilings", "normal_only_rules", "nearest_training_templates",
           "main"]

OOV = "<unseen template>"


def f1_ceiling(keys, y):
    """Highest F1 of any function of ``keys`` on labels ``y`` (anomaly = 1).

    A function of the key gives one decision per distinct key. F1 is
    ``2 TP / (TP + FP + P)``, a ratio of sums over the chosen groups, so the
    best set of groups is the groups whose anomaly share exceeds some level
    (Dinkelbach); sweeping that level over the sorted shares is exact.

    Examples
    --------
    >>> round(f1_ceiling(["a", "a", "b", "b"], [1, 0, 1, 1]), 3)
    0.857
    """
    y = np.asarray(y, dtype=np.int64)
    positives = int(y.sum())
    if positives == 0:
        return 0.0
    tally = defaultdict(lambda: [0, 0])  # key -> [anomalies, sessions]
    for key, label in zip(keys, y, strict=True):
        tally[key][0] += int(label)
        tally[key][1] += 1
    groups = np.array(list(tally.values()), dtype=np.float64)
    groups = groups[np.argsort(-groups[:, 0] / groups[:, 1], kind="stable")]
    tp = np.cumsum(groups[:, 0])
    flagged = np.cumsum(groups[:, 1])
    return float(np.max(2 * tp / (flagged + positives)))


def _words(text):
    return set(re.findall(r"[a-z]{2,}", text.lower()))


def nearest_training_templates(unseen, seen, embedder, min_similarity=None):
    """Map each unseen template to its nearest seen one (cosine of the ``embedder``'s
    vectors); below ``min_similarity`` to :data:`OOV`. Returns ``(mapping, similarities)``."""
    unseen, seen = sorted(unseen), sorted(seen)
    if not unseen:
        return {}, np.zeros(0)
    a = embedder.embed_templates(unseen).astype(np.float64)
    b = embedder.embed_templates(seen).astype(np.float64)
    a /= np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)
    b /= np.linalg.norm(b, axis=1, keepdims=True).clip(1e-12)
    similarity = a @ b.T
    best, score = similarity.argmax(axis=1), similarity.max(axis=1)
    mapping = {t: (seen[j] if min_similarity is None or s >= min_similarity else OOV)
               for t, j, s in zip(unseen, best, score, strict=True)}
    return mapping, score


def bgl_ceilings(split, embedder=None):
    """Unseen-template statistics and F1 ceilings on the BGL balanced test part
    (with an ``embedder``, also the semantic nearest-training-template ceilings)."""
    seen = {t for session in split.X_train for t in session}
    seen_words = set().union(*(_words(t) for t in seen))
    mapped = [tuple(t if t in seen else OOV for t in s) for s in split.X_test]
    y = np.asarray(split.y_test)
    has_unseen = np.array([OOV in m for m in mapped])
    only_unseen = np.array([len(m) > 0 and all(t == OOV for t in m) for m in mapped])
    unseen_word = np.array([bool(set().union(*map(_words, s)) - seen_words) if s else False
                            for s in split.X_test])
    normal, anomaly = y == 0, y == 1
    return {
        "training templates": len(seen),
        "test templates unseen in training": len({t for s in split.X_test for t in s} - seen),
        "normal test windows with an unseen template": float(has_unseen[normal].mean()),
        "normal test windows made only of unseen templates": float(only_unseen[normal].mean()),
        "anomalous test windows with an unseen template": float(has_unseen[anomaly].mean()),
        "normal test windows with a word unseen in training templates":
            float(unseen_word[normal].mean()),
        "anomalous test windows with a word unseen in training templates":
            float(unseen_word[anomaly].mean()),
        "F1 ceiling: any function of the id sequence (unseen -> one id)":
            f1_ceiling(mapped, y),
        "F1 ceiling: any function of the id counts (unseen -> one id)":
            f1_ceiling([tuple(sorted(m)) for m in mapped], y),
        **({} if embedder is None else _semantic_ceilings(split, seen, y, embedder)),
    }


def normal_only_rules(split):
    """How far the test windows are from the normal training windows, and the F1 of rules
    that decide from the normal training windows alone (no threshold, no test label).

    A window is *novel as a set* when no normal training window holds exactly
    its set of templates; *over a count* when one of its templates occurs
    more often than in any normal training window (a template never seen in
    training counts as over); *novel as runs* when no normal training window
    has its sequence of templates once repeats are collapsed (``a a b a`` ->
    ``a b a``); *with an unseen transition* when one of its runs follows
    another (or starts or ends the window) in a way no normal training window
    shows (:class:`~sklog.utils.TransitionMemory`).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> split = SimpleNamespace(X_train=[["a", "b"], ["a", "a"]], y_train=[0, 0],
    ...                         X_test=[["b", "a"], ["a", "a", "a"], ["b", "b"]],
    ...                         y_test=[0, 1, 1])
    >>> rules = normal_only_rules(split)
    >>> round(rules["F1: template set never seen in a normal training window"], 3)
    0.667
    >>> rules["F1: a template more often than in any normal training window"]
    1.0
    >>> rules["F1: sequence of runs never seen in a normal training window"]
    0.5
    >>> rules["F1: a transition between runs never seen in a normal training window"]
    0.5
    """
    from sklearn.metrics import f1_score

    normal_train = [s for s, label in zip(split.X_train, split.y_train, strict=True)
                    if label == 0]
    sequences = {tuple(s) for s in normal_train}
    counts = {tuple(sorted(Counter(s).items())) for s in normal_train}
    sets = {frozenset(s) for s in normal_train}
    runs = {_runs(s) for s in normal_train}
    most = Counter()
    for session in normal_train:
        for template, n in Counter(session).items():
            most[template] = max(most[template], n)
    y = np.asarray(split.y_test)
    normal, anomaly = y == 0, y == 1
    test_counts = [Counter(s) for s in split.X_test]
    same_sequence = np.array([tuple(s) in sequences for s in split.X_test])
    same_counts = np.array([tuple(sorted(c.items())) in counts for c in test_counts])
    novel_set = np.array([frozenset(c) not in sets for c in test_counts])
    over_count = np.array([any(n > most[t] for t, n in c.items()) for c in test_counts])
    novel_runs = np.array([_runs(s) not in runs for s in split.X_test])
    novel_transition = TransitionMemory().fit(normal_train).count_unseen(split.X_test) > 0
    out = {
        "normal training windows": len(normal_train),
        "normal test windows equal to a normal training window": float(
            same_sequence[normal].mean()),
        "anomalous test windows equal to a normal training window": float(
            same_sequence[anomaly].mean()),
        "anomalous test windows with the template counts of a normal training window": float(
            same_counts[anomaly].mean()),
    }
    for name, flagged in (("template set never seen in a normal training window", novel_set),
                          ("a template more often than in any normal training window",
                           over_count),
                          ("sequence of runs never seen in a normal training window",
                           novel_runs),
                          ("a transition between runs never seen in a normal training window",
                           novel_transition)):
        out[f"F1: {name}"] = float(f1_score(y, flagged))
        out[f"share of normal / anomalous test windows flagged: {name}"] = (
            f"{flagged[normal].mean():.3f} / {flagged[anomaly].mean():.3f}")
    return out


def _runs(session):
    """The session's templates with consecutive repeats collapsed."""
    return tuple(template for template, _ in groupby(session))


def _semantic_ceilings(split, seen, y, embedder):
    unseen = {t for s in split.X_test for t in s} - seen
    out = {}
    for level in (None, 0.9, 0.8):
        mapping, similarity = nearest_training_templates(unseen, seen, embedder, level)
        if level is None:
            out["median cosine of an unseen test template to its nearest training template"] = (
                float(np.median(similarity)) if len(similarity) else float("nan"))
        snapped = [tuple(mapping.get(t, t) for t in s) for s in split.X_test]
        rule = "nearest training template" + ("" if level is None else
                                              f" if cosine >= {level}, else one id")
        out[f"F1 ceiling: any function of the sequence, unseen -> {rule}"] = f1_ceiling(
            snapped, y)
    return out


def main(argv=None):
    from ._data import DatasetCache, default_data_dir, make_split

    parser = argparse.ArgumentParser(prog="python -m sklog.benchmarks.ceilings",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-semantic", action="store_true",
                        help="skip the Sentence-BERT nearest-template ceilings")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    data = DatasetCache(data_dir).get("bgl_seq")
    split = make_split("bgl_seq", "balanced", data, args.seed)
    print(f"BGL balanced test part, seed {args.seed} ({split.info['n_test']} windows, "
          f"{split.info['n_test_anomalies']} anomalous); training: {split.info['n_train']} "
          "windows of train.txt\n")
    embedder = None
    if not args.no_semantic:
        from ..feature_extraction import BertEmbedder

        embedder = BertEmbedder()
    _print_table(bgl_ceilings(split, embedder))
    split = make_split("bgl_seq", "mlad_balanced", data, args.seed)
    print(f"\nBGL mlad_balanced test part, seed {args.seed} ({split.info['n_test']} windows, "
          f"{split.info['n_test_anomalies']} anomalous); training: {split.info['n_train']} "
          "normal windows\n")
    _print_table({**bgl_ceilings(split), **normal_only_rules(split)})
    return 0


def _print_table(rows):
    print("| quantity | value |\n|---|---|")
    for name, value in rows.items():
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"| {name} | {text} |")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
