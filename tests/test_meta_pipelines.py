"""Feature selection, SMOTE and the meta-learners in imbalanced-learn pipelines (issue #10)."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.preprocessing import StandardScaler

from sklog.feature_selection import MutualInfoSelector
from sklog.meta import MAMLClassifier, ProtoNetClassifier
from sklog.metrics import LeaveOneSystemOut


@pytest.fixture(scope="module")
def three_systems():
    """Three systems of 20 features, 8% anomalies that differ on features 0-2."""
    rng = np.random.default_rng(0)
    X, y, groups = [], [], []
    for system in range(3):
        labels = (rng.random(150) < 0.08).astype(int)
        rows = rng.normal(0, 1, (150, 20))
        rows[:, :3] += 3 * labels[:, None]
        X.append(rows)
        y.append(labels)
        groups += [f"system{system}"] * 150
    return np.concatenate(X), np.concatenate(y), np.asarray(groups)


@pytest.mark.parametrize("learner", [
    MAMLClassifier(hidden=(16,), n_episodes=20, max_epochs=5, lr=1e-2, first_order=True,
                   random_state=0),
    ProtoNetClassifier(hidden=(16,), embedding_dim=8, n_episodes=20, max_epochs=5,
                       random_state=0),
], ids=["maml", "protonet"])
def test_selection_smote_and_a_meta_learner_leave_one_system_out(three_systems, learner,
                                                                 tmp_path):
    X, y, groups = three_systems
    pipe = make_pipeline(StandardScaler(), MutualInfoSelector(k=5, n_estimators=20,
                                                              random_state=0),
                         SMOTE(random_state=0), learner)
    # the groups go to the splitter only: SMOTE adds rows, so the learner sees one task
    f1 = cross_val_score(pipe, X, y, groups=groups, cv=LeaveOneSystemOut(), scoring="f1")
    assert len(f1) == 3 and f1.mean() > 0.8
    search = GridSearchCV(pipe, {"mutualinfoselector__k": [3, 10]}, scoring="f1",
                          cv=LeaveOneSystemOut()).fit(X, y, groups=groups)
    assert search.best_score_ > 0.8
    fitted = search.best_estimator_
    joblib.dump(fitted, tmp_path / "pipe.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "pipe.joblib").predict(X),
                                  fitted.predict(X))
    assert fitted[1].get_support()[:3].all()  # the informative features were kept
