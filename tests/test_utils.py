import pickle
import warnings

import numpy as np
import pytest

from sklog.utils import (
    LineTruncationWarning,
    TemplateVocabulary,
    check_session_labels,
    check_sessions,
    pad_sequences,
    resolve_device,
    seed_from_random_state,
    torch_generator,
    torch_seed,
)


def test_check_sessions_accepts_lists_tuples_and_object_arrays():
    X = np.empty(2, dtype=object)
    X[0], X[1] = ["a", "b"], ("c",)
    assert check_sessions(X) == [["a", "b"], ["c"]]
    assert check_sessions((("x",), [])) == [["x"], []]


@pytest.mark.parametrize("bad", ["one line", b"one line"])
def test_check_sessions_rejects_a_bare_string(bad):
    with pytest.raises(TypeError, match="single string"):
        check_sessions(bad)


def test_check_sessions_rejects_a_session_that_is_a_string():
    with pytest.raises(TypeError, match="session 1 is a single string"):
        check_sessions([["ok"], "not a session"])


def test_check_sessions_numeric_arrays():
    assert check_sessions(np.array([[1, 2], [3, 4]])) == [["1", "2"], ["3", "4"]]
    with pytest.raises(ValueError, match="NaN"):
        check_sessions(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="NaN"):
        check_sessions([[1.0, np.inf]])
    with pytest.raises(TypeError, match="raw text"):
        check_sessions(np.zeros((2, 3)), allow_numeric=False)
    with pytest.raises(ValueError, match="1D"):
        check_sessions(np.zeros(3))


def test_check_sessions_decodes_bytes_with_replacement_and_truncates():
    out = check_sessions([[b"caf\xe9 ok"]])
    assert out == [["caf\ufffd ok"]]
    with pytest.warns(LineTruncationWarning, match="1 line"):
        out = check_sessions([["x" * 50, "short"]], max_line_length=10)
    assert out == [["x" * 10, "short"]]


def test_check_sessions_empty_session_is_valid_but_no_sessions_is_not():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_sessions([[]]) == [[]]
    with pytest.raises(ValueError, match="0 sessions"):
        check_sessions([])


def test_check_session_labels():
    assert check_session_labels([0, 1], 2).tolist() == [0, 1]
    with pytest.raises(ValueError, match="2 sessions but 3 labels"):
        check_session_labels([0, 1, 1], 2)


def test_vocabulary_orders_by_frequency_and_maps_unseen_to_oov():
    vocab = TemplateVocabulary().fit([["b", "a", "b"], ["c", "b"]])
    assert vocab.templates_ == ["b", "a", "c"]
    assert vocab.size == 5
    encoded = vocab.encode([["a", "zzz"], [], ["b"]])
    assert [e.tolist() for e in encoded] == [[3, 1], [], [2]]
    assert vocab.decode([0, 1, 2]) == ["<PAD>", "<OOV>", "b"]
    again = pickle.loads(pickle.dumps(vocab))
    assert again.encode([["c"]])[0].tolist() == [4]


def test_vocabulary_min_count():
    vocab = TemplateVocabulary(min_count=2).fit([["a", "a", "b"]])
    assert vocab.templates_ == ["a"]
    assert vocab.encode([["b"]])[0].tolist() == [1]


def test_pad_sequences():
    padded, lengths = pad_sequences([np.array([5, 6, 7]), np.array([], dtype=int)], 2)
    assert padded.tolist() == [[5, 6], [0, 0]]
    assert lengths.tolist() == [2, 0]
    padded, _ = pad_sequences([np.array([5, 6, 7])], 2, truncating="pre")
    assert padded.tolist() == [[6, 7]]


def test_device_and_seeding():
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    # a seed is the first draw of numpy's stream for that random_state, as in scikit-learn
    assert seed_from_random_state(0) == np.random.RandomState(0).randint(2**31 - 1)
    assert seed_from_random_state(0) != seed_from_random_state(1)
    rng = np.random.RandomState(0)
    assert seed_from_random_state(rng) != seed_from_random_state(rng)  # an instance advances
    # the generator is seeded with the given seed, not left at torch's default
    a = torch.rand(3, generator=torch_generator(7))
    assert torch.equal(a, torch.rand(3, generator=torch.Generator().manual_seed(7)))
    assert not torch.equal(a, torch.rand(3, generator=torch_generator(8)))
    state = torch.get_rng_state()
    with torch_seed(3):
        first = torch.rand(2)
    with torch_seed(4):
        other = torch.rand(2)
    assert torch.equal(first, torch.rand(2, generator=torch_generator(3)))
    assert not torch.equal(first, other)
    assert torch.equal(torch.get_rng_state(), state)  # caller's stream untouched
