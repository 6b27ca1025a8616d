import joblib
import numpy as np
import pytest

from sklog.feature_extraction import TemplateCounter


def test_counts_and_unseen_column():
    counter = TemplateCounter().fit([["a", "b", "a"], ["c"]])
    X = counter.transform([["a", "a", "new"], [], ["c", "other", "b"]]).toarray()
    names = counter.get_feature_names_out().tolist()
    assert names == ["a", "b", "c", "<OOV>"]
    assert X.tolist() == [[2, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 1]]


def test_tfidf_downweights_templates_present_everywhere():
    X = [["common", "rare"], ["common"], ["common"]]
    counter = TemplateCounter(tfidf=True).fit(X)
    weights = counter.transform([["common", "rare"]]).toarray()[0]
    assert weights[0] < weights[1]
    assert counter.idf_.shape == (3,)


def test_binary_and_min_count():
    counter = TemplateCounter(binary=True, min_count=2).fit([["a", "a", "b"]])
    assert counter.transform([["a", "a", "b"]]).toarray().tolist() == [[1.0, 1.0]]


def test_invalid_parameter_names_the_value():
    with pytest.raises(ValueError, match="min_count"):
        TemplateCounter(min_count=0).fit([["a"]])


def test_joblib_round_trip(tmp_path):
    counter = TemplateCounter(tfidf=True).fit([["a", "b"], ["b"]])
    joblib.dump(counter, tmp_path / "c.joblib")
    loaded = joblib.load(tmp_path / "c.joblib")
    X = [["a", "zz", "b"]]
    assert np.allclose(loaded.transform(X).toarray(), counter.transform(X).toarray())
