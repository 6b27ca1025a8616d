"""What every episodic (meta-)learner shares: tasks from groups, seeded episodes, inference."""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils import resolve_device, seed_from_random_state, torch_threads


class Episodes:
    """Episode ``i`` of epoch ``epoch``: one task's support and query rows, seeded.

    Every class of the task gives ``n_shot`` support and ``n_query`` query rows
    (drawn with replacement from a class with fewer rows; a class the task
    lacks draws from all its rows), so all episodes have the same shape and a
    loader can stack them into a batch of tasks.
    """

    def __init__(self, X, y, tasks, n_classes, n_shot, n_query, n_episodes, seed):
        self.X, self.y, self.tasks = X, y, tasks
        self.n_classes, self.n_shot, self.n_query = n_classes, n_shot, n_query
        self.n_episodes, self.seed, self.epoch = n_episodes, seed, 0

    def __len__(self):
        return self.n_episodes

    def __getitem__(self, i):
        rng = np.random.default_rng([self.seed, self.epoch, i])
        task = self.tasks[rng.integers(len(self.tasks))]
        support, query = [], []
        for rows in task:
            picked = rng.choice(rows, self.n_shot + self.n_query,
                                replace=len(rows) < self.n_shot + self.n_query)
            support.append(picked[:self.n_shot])
            query.append(picked[self.n_shot:])
        support, query = np.concatenate(support), np.concatenate(query)
        features = {"support": self.X[support], "support_y": self.y[support],
                    "query": self.X[query], "n_classes": np.int64(self.n_classes)}
        return features, self.y[query]


class EpisodicMixin:
    """Validation, tasks and episodes of ``fit(X, y, groups)``; support sets; predictions.

    A learner defines ``_logits(X)`` (one column per class); the mixin turns it
    into ``predict_proba``, ``decision_function`` and ``predict``.
    """

    #: the constraints of the parameters every episodic learner has
    _episodic_constraints = {
        "hidden": ["array-like"],
        "n_shot": [Interval(Integral, 1, None, closed="left")],
        "n_query": [Interval(Integral, 1, None, closed="left")],
        "n_episodes": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "device": [StrOptions({"auto", "cpu", "cuda"}), str],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _episodes(self, X, y, groups):
        """Validate; set ``classes_``, ``n_tasks_``, ``device_``; return ``(X, Episodes, seed)``.

        A task is a group (system) holding at least two classes; ``groups=None``
        is one task.
        """
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least two classes; got one "
                             f"class ({self.classes_[0]!r}).")
        groups = np.zeros(len(y)) if groups is None else np.asarray(groups)
        if len(groups) != len(y):
            raise ValueError(f"groups has {len(groups)} entries for {len(y)} rows.")
        tasks = []
        for group in np.unique(groups):
            rows = np.flatnonzero(groups == group)
            by_class = [rows[codes[rows] == c] for c in range(len(self.classes_))]
            if sum(len(r) > 0 for r in by_class) >= 2:
                tasks.append([r if len(r) else rows for r in by_class])
        if not tasks:
            raise ValueError("no group of the training data holds two classes: no episode "
                             "can be drawn.")
        self.n_tasks_ = len(tasks)
        self.device_ = resolve_device(self.device)
        seed = seed_from_random_state(self.random_state)
        episodes = Episodes(X, codes.astype(np.int64), tasks, len(self.classes_), self.n_shot,
                            self.n_query, self.n_episodes, seed)
        return X, codes, episodes, seed

    def _run_float64(self, module, X):
        """``module`` on ``X`` in chunks, in float64: a row's output must not depend on the
        rows batched with it."""
        import torch

        module = copy.deepcopy(module).double().eval()
        out = []
        with torch.no_grad(), torch_threads(self.n_jobs):
            for start in range(0, len(X), 4096):
                chunk = torch.as_tensor(X[start:start + 4096], dtype=torch.float64,
                                        device=self.device_)
                out.append(module(chunk).cpu().numpy())
        return np.concatenate(out) if out else None

    def _support(self, X_support, y_support, fitted):
        """Validated support rows and their class codes; unseen classes raise."""
        check_is_fitted(self, fitted)
        X_support = validate_data(self, X_support, dtype=np.float32, reset=False)
        y_support = np.asarray(y_support)
        unknown = set(np.unique(y_support)) - set(self.classes_.tolist())
        if unknown:
            raise ValueError(f"y_support holds classes never seen in fit: {sorted(unknown)}.")
        return X_support, np.searchsorted(self.classes_, y_support)

    def predict_proba(self, X):
        """Softmax over the logits (for prototypes: minus the squared distances)."""
        logits = self._logits(X)
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def decision_function(self, X):
        """Binary: the second class's logit minus the first's; else the logits."""
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if len(self.classes_) == 2 else logits

    def predict(self, X):
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]
