"""DrainTemplater: mining, matching-only transform, input handling, persistence, accuracy."""

from __future__ import annotations

import copy
import json
import pickle
import re
import time
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sklog.datasets import load_loghub_2k
from sklog.preprocessing import (
    DEFAULT_MASKING,
    UNKNOWN_TEMPLATE,
    DrainTemplater,
    _drain,
    log_format_regex,
    loghub_presets,
)
from sklog.preprocessing._drain import _search, _template_matchers
from sklog.utils import LineTruncationWarning

HDFS_FORMAT = "<Date> <Time> <Pid> <Level> <Component>: <Content>"


def _hdfs_like_sessions(n_sessions=40, seed=0):
    """A few hundred HDFS-style raw lines, grouped by block, deterministic."""
    rng = np.random.default_rng(seed)
    sessions = []
    for s in range(n_sessions):
        blk = f"blk_{'-' if s % 3 == 0 else ''}{rng.integers(10**17, 10**18)}"
        ip = ".".join(str(v) for v in rng.integers(1, 255, 4))
        pid = int(rng.integers(10, 999))
        head = f"081109 20{s % 60:02d}15 {pid} INFO"
        lines = [
            f"{head} dfs.DataNode$DataXceiver: Receiving block {blk} src: /{ip}:{50010 + s} "
            f"dest: /{ip}:50010",
            f"{head} dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /user/root/rand/_temporary"
            f"/_task_{s:04d}_m_{s:06d}_0/part-{s:05d}. {blk}",
            f"{head} dfs.DataNode$PacketResponder: PacketResponder {s % 3} for block {blk} "
            "terminating",
            f"{head} dfs.DataNode$PacketResponder: Received block {blk} of size "
            f"{67108864 - (s % 4) * 1000} from /{ip}",
            f"{head} dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: "
            f"{ip}:50010 is added to {blk} size 67108864",
        ]
        if s % 7 == 0:
            lines.append(f"{head} dfs.DataNode: {ip}:50010:Got exception while serving {blk} "
                         f"to /{ip}:")
        sessions.append(lines)
    return sessions


@pytest.fixture(scope="module")
def sessions():
    return _hdfs_like_sessions()


@pytest.fixture(scope="module")
def fitted(sessions):
    return DrainTemplater(log_format="HDFS").fit(sessions)


# --------------------------------------------------------------------------- mining
def test_fit_mines_hdfs_templates(fitted, sessions):
    assert fitted.templates_ == [
        "Receiving block <*> src: /<*> dest: /<*>",
        "BLOCK* NameSystem.allocateBlock: <*> <*>",
        "PacketResponder <*> for block <*> terminating",
        "Received block <*> of size <*> from /<*>",
        "BLOCK* NameSystem.addStoredBlock: blockMap updated: <*> is added to <*> size 67108864",
        "<*>:Got exception while serving <*> to /<*>:",
    ]
    assert fitted.template_counts_.tolist() == [40, 40, 40, 40, 40, 6]
    n_lines = sum(len(s) for s in sessions)
    assert fitted.template_counts_.dtype == np.int64
    assert fitted.template_counts_.sum() == n_lines
    out = fitted.transform(sessions)
    flat = [t for s in out for t in s]
    counts = {t: flat.count(t) for t in set(flat)}
    assert counts == dict(zip(fitted.templates_, fitted.template_counts_.tolist(), strict=True))
    assert UNKNOWN_TEMPLATE not in flat
    # every block's lines map to the same five templates, in order
    assert all(s[:5] == out[0][:5] for s in out)
    assert fitted.log_format_ == HDFS_FORMAT
    assert fitted.similarity_threshold_ == 0.5 and fitted.depth_ == 4


def test_docstring_example_and_unknown_token():
    templater = DrainTemplater().fit([["open file a.txt", "read 10 bytes"], ["open file b.txt"]])
    assert templater.templates_ == ["open file <*>", "read <*> bytes"]
    assert templater.template_counts_.tolist() == [2, 1]
    out = templater.transform([["open file c.txt", "read 99999 bytes", "delete everything"]])
    assert out == [["open file <*>", "read <*> bytes", UNKNOWN_TEMPLATE]]


def test_transform_never_creates_templates(fitted):
    before = (list(fitted.templates_), fitted.template_counts_.copy(), dict(fitted._known))
    novel = [["081109 203615 148 INFO dfs.DataNode: something entirely new happened here"],
             ["081109 203615 148 INFO dfs.DataNode: another novel message"]]
    assert fitted.transform(novel) == [[UNKNOWN_TEMPLATE], [UNKNOWN_TEMPLATE]]
    assert fitted.templates_ == before[0]
    np.testing.assert_array_equal(fitted.template_counts_, before[1])
    assert fitted._known == before[2]


def test_unseen_message_matches_most_specific_template():
    matchers = _template_matchers([("a", "<*>", "<*>", "d"), ("a", "b", "<*>", "d"),
                                   ("<*>", "<*>", "<*>", "<*>")])
    assert _search("a b c d", matchers) == 1
    assert _search("a x c d", matchers) == 0
    assert _search("z x c d", matchers) == 2
    assert _search("a b c", matchers) == -1
    assert _search("a b c d e f", matchers) == -1  # more tokens than any template


def test_short_messages_are_their_own_template():
    # depth 6 -> 4 token levels: shorter messages are never merged (LogPAI's Drain)
    lines = ["state on", "state off", "state on", "cache is now warm", "cache is now cold"]
    out = DrainTemplater(masking=[], depth=6, similarity_threshold=0.2).fit_transform([lines])
    assert out == [["state on", "state off", "state on", "cache is now <*>", "cache is now <*>"]]


def test_same_preprocessing_in_fit_and_transform():
    """drain3's match could disagree with add_log_message on surrounding whitespace."""
    templater = DrainTemplater().fit([["  job 12 started on node7  ", "job 13 started on node8"]])
    assert templater.transform([["job 99 started on node1\n", "\tjob 1 started on x9 "]]) == [
        ["job <*> started on <*>", "job <*> started on <*>"]
    ]


def test_default_masking():
    lines = [
        "conn from 10.250.19.102:54106 id 0x7f3a2b1c blk_-160899 uuid "
        "b9000564-fe1a-409b-b8a4-0e6c3b1a2f10 took 12.5 ms hash deadbeef42",
    ]
    templater = DrainTemplater().fit([lines])
    assert templater.templates_ == ["conn from <*> id <*> <*> uuid <*> took <*> ms hash <*>"]
    assert list(DEFAULT_MASKING) == templater.masking_


def test_masking_empty_list_masks_nothing():
    templater = DrainTemplater(masking=[], similarity_threshold=0.9).fit(
        [["user alice logged in", "user bob logged in"]]
    )
    assert templater.masking_ == []
    assert templater.templates_ == ["user alice logged in", "user bob logged in"]


def test_log_format_fallback_to_whole_line(fitted):
    # a line without the HDFS header is mined/matched whole, never dropped
    templater = DrainTemplater(log_format=HDFS_FORMAT).fit(
        [["no header here at all", "081109 203615 148 INFO dfs.X: real message 1"]]
    )
    assert templater.templates_ == ["no header here at all", "real message <*>"]
    assert fitted.transform([["garbage without a header"]]) == [[UNKNOWN_TEMPLATE]]


def test_log_format_regex():
    regex = log_format_regex(r"<Date> <Time> \[<Level>\] <Content>")
    found = regex.match("2024-01-01 10:00:00   [WARN] disk  almost full")
    assert found.group("Level") == "WARN" and found.group("Content") == "disk  almost full"
    with pytest.raises(ValueError, match="Content"):
        log_format_regex("<Date> <Message>")
    with pytest.raises(ValueError, match="twice"):
        log_format_regex("<Date> <Date> <Content>")


def _logpai_regex(log_format):
    """LogPAI's header regex (logparser's generate_logformat_regex): lazy fields.

    The pattern sklog used before its fields stopped backtracking; it takes
    minutes on a long line that does not fit, so it is only run on the
    reference samples.
    """
    pieces = re.split(r"(<[^<>]+>)", log_format)
    regex = "".join(re.sub(" +", r"\\s+", piece) if k % 2 == 0 else f"(?P<{piece[1:-1]}>.*?)"
                    for k, piece in enumerate(pieces))
    return re.compile("^" + regex + "$")


@pytest.fixture(params=[True, False], ids=["atomic-groups", "python-3.10"])
def atomic(request, monkeypatch):
    """Header regexes built with Python 3.11's atomic groups, or without (3.10)."""
    monkeypatch.setattr(_drain, "_ATOMIC", request.param and _drain._ATOMIC)
    return _drain._ATOMIC


@pytest.mark.parametrize("system", sorted(loghub_presets()))
def test_header_fields_are_logpai_fields_on_loghub_samples(system, atomic):
    log_format = loghub_presets()[system]["log_format"]
    ours, logpai = log_format_regex(log_format), _logpai_regex(log_format)
    lines = [line.strip() for line in load_loghub_2k(system).lines]
    parsed = [ours.match(line) for line in lines]
    assert all(found is not None for found in parsed)
    assert [found.groupdict() for found in parsed] == [logpai.match(line).groupdict()
                                                      for line in lines]


def _adversarial_lines(header, n_lines, length=10_000):
    """Long lines made of one real header repeated, then short lines after newlines.

    Nothing fits the format (the message cannot hold a newline, and no field
    can cross one), so LogPAI's lazy fields try every split of the repeated
    headers: seconds to hours per line for every loghub preset.
    """
    repeated = header * (length // len(header) + 1)
    lines = []
    for k in range(n_lines):
        tail = "\nx" * (20 + k % 20)
        lines.append(repeated[: length - len(tail)].strip() + tail)
    return lines


@pytest.mark.parametrize("system", sorted(loghub_presets()))
def test_header_matching_time_is_linear_on_adversarial_lines(system, atomic):
    regex = log_format_regex(loghub_presets()[system]["log_format"])
    first = load_loghub_2k(system).lines[0].strip()
    lines = _adversarial_lines(first[: regex.match(first).start("Content")], 200)
    start = time.process_time()
    found = [regex.match(line) for line in lines]
    per_line = (time.process_time() - start) / len(lines)
    assert found == [None] * len(lines)
    # generous: 0.01-0.1 ms here; LogPAI's lazy pattern takes 5 s to hours per line
    assert per_line < 0.01
    # the same lines without their line breaks: random-length fields, still linear
    start = time.process_time()
    for line in lines:
        regex.match(line.replace("\n", " "))
    assert (time.process_time() - start) / len(lines) < 0.01


def test_adversarial_benchmark_rows():
    from sklog.benchmarks.adversarial import adversarial_throughput, random_printable_lines

    lines = random_printable_lines(20, 2_000, seed=1)
    assert len(set(lines)) == 20 and all(len(line) == 2_000 for line in lines)
    hdfs, bgl = adversarial_throughput(lines, ["HDFS", "BGL"])
    assert (hdfs["lines"], hdfs["line_length"]) == (20, 2_000)
    # any line of ten or more words fits BGL's ten whitespace-separated parts
    assert bgl["header_fits"] == 1.0 and 0 <= hdfs["header_fits"] < 1
    assert hdfs["unknown_share"] == bgl["unknown_share"] == 1.0


def test_log_format_regex_fields_end_where_the_format_goes_on():
    regex = log_format_regex(r"<Component>(\[<PID>\])?: <Content>")
    found = regex.match("su(pam_unix)[21416]: session opened: root")
    assert found.group("Component", "PID", "Content") == (
        "su(pam_unix)", "21416", "session opened: root")
    found = regex.match("syslogd 1.4.1: restart.")
    assert found.group("Component", "PID", "Content") == ("syslogd 1.4.1", None, "restart.")
    # a field may hold the start of what follows it, just not all of it
    found = regex.match("ioctl32(fdisk:515): Unknown cmd")
    assert found.group("Component") == "ioctl32(fdisk:515)"
    # regex syntax the fast path does not know still works (a character class)
    found = log_format_regex("<Level>[|:] <Content>").match("WARN| disk  full")
    assert found.group("Level", "Content") == ("WARN", "disk  full")
    # a line break never fits, but a last one
    assert log_format_regex("<Level>: <Content>").match("INFO: a\nb") is None
    assert log_format_regex("<Level>: <Content>").match("INFO: a\n").group("Content") == "a"
    # a field right before another one is empty, as LogPAI's lazy field is
    assert log_format_regex("<Level><Content>").match("abc").group("Level") == ""
    with pytest.raises(ValueError, match="unclosed"):
        log_format_regex("(<Level> <Content>")
    with pytest.raises(ValueError, match="unmatched"):
        log_format_regex("<Level>) <Content>")
    with pytest.raises(ValueError, match="group that holds fields"):
        log_format_regex(r"(\[<Pid>\])* <Content>")


def test_presets():
    presets = loghub_presets()
    assert len(presets) == 16
    assert presets["Android"]["depth"] == 6
    lower = DrainTemplater(log_format="hdfs").fit([["081109 203615 148 INFO dfs.X: hi"]])
    assert lower.log_format_ == HDFS_FORMAT
    with pytest.raises(ValueError, match="preset"):
        DrainTemplater(log_format="NoSuchSystem").fit([["a"]])


def test_presets_match_shared_settings(shared_data):
    shared = json.loads((shared_data / "loghub" / "settings.json").read_text())
    presets = loghub_presets()
    assert set(presets) == set(shared)
    for name, preset in presets.items():
        assert preset["log_format"] == shared[name]["log_format"]
        assert preset["masking_regex"] == shared[name]["masking_regex"]
        assert preset["similarity_threshold"] == shared[name]["similarity_threshold"]
        assert preset["depth"] == shared[name]["depth"]


@pytest.mark.parametrize("system", ["HDFS", "Apache", "Android"])
def test_loghub_grouping_accuracy(shared_data, system):
    from sklog.benchmarks.templating import loghub_accuracy

    (row,) = loghub_accuracy(shared_data, [system])
    assert row["lines"] == 2000
    assert row["grouping_accuracy"] >= row["published_drain_accuracy"] - 0.005


# --------------------------------------------------------------------------- input handling
def test_rejects_bare_string_and_numeric_arrays():
    with pytest.raises(TypeError, match="sequence of sessions"):
        DrainTemplater().fit("just one line")
    with pytest.raises(TypeError, match="raw text"):
        DrainTemplater().fit(np.zeros((3, 4)))
    with pytest.raises(TypeError):
        DrainTemplater().fit([[1.5, 2.5]])


def test_empty_session_and_empty_line(fitted):
    out = fitted.transform([[], ["081109 203615 148 INFO dfs.X: "], []])
    assert out[0] == [] and out[2] == []
    assert len(out[1]) == 1
    templater = DrainTemplater().fit([["", "a b c"], []])
    assert templater.transform([[""], []]) == [[""], []]


def test_non_utf8_bytes_are_decoded_with_replacement():
    templater = DrainTemplater(masking=[]).fit([[b"caf\xe9 opened", "caf\ufffd opened"]])
    assert templater.templates_ == ["caf\ufffd opened"]
    assert templater.template_counts_.tolist() == [2]
    assert templater.transform([[b"caf\xff opened"]]) == [["caf\ufffd opened"]]


def test_megabyte_line_is_truncated_with_warning():
    huge = "x " * 600_000
    templater = DrainTemplater(max_line_length=100)
    with pytest.warns(LineTruncationWarning):
        templater.fit([[huge, "short line"]])
    assert max(len(t) for t in templater.templates_) <= 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DrainTemplater(max_line_length=None).fit([["a" * 20_000]])


def test_parameter_validation():
    with pytest.raises(ValueError, match="similarity_threshold"):
        DrainTemplater(similarity_threshold=1.5).fit([["a"]])
    with pytest.raises(ValueError, match="depth"):
        DrainTemplater(depth=2).fit([["a"]])
    with pytest.raises(ValueError, match="masking"):
        DrainTemplater(masking="blk_\\d+").fit([["a"]])
    with pytest.raises(ValueError, match="not valid"):
        DrainTemplater(masking=["(unclosed"]).fit([["a"]])


def test_max_clusters_bounds_templates(sessions):
    templater = DrainTemplater(log_format="HDFS", max_clusters=2).fit(sessions)
    out = templater.transform(sessions)
    assert len(out) == len(sessions)
    assert all(t in templater.templates_ or t == UNKNOWN_TEMPLATE for s in out for t in s)
    assert len(templater.templates_) < len(DrainTemplater(log_format="HDFS").fit(sessions)
                                           .templates_)


# --------------------------------------------------------------------------- estimator API
def test_estimator_api(sessions):
    templater = DrainTemplater(log_format="HDFS", similarity_threshold=0.6)
    with pytest.raises(NotFittedError):
        templater.transform(sessions)
    params = templater.get_params()
    assert params["log_format"] == "HDFS" and params["similarity_threshold"] == 0.6
    cloned = clone(templater)
    assert cloned.get_params() == params and cloned is not templater
    assert templater.set_params(depth=5) is templater and templater.depth == 5
    assert templater.fit(sessions) is templater
    assert not hasattr(clone(templater), "templates_")
    tags = templater.__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array


def test_fit_transform_equals_fit_then_transform_and_is_deterministic(sessions):
    a = DrainTemplater(log_format="HDFS").fit_transform(sessions)
    b = DrainTemplater(log_format="HDFS").fit(sessions).transform(sessions)
    assert a == b
    t1 = DrainTemplater(log_format="HDFS").fit(sessions)
    t2 = DrainTemplater(log_format="HDFS").fit(sessions)
    assert t1.templates_ == t2.templates_
    np.testing.assert_array_equal(t1.template_counts_, t2.template_counts_)


def test_pickle_and_joblib_round_trip(fitted, sessions, tmp_path):
    blob = pickle.dumps(fitted)
    assert b"drain3" not in blob and b"jsonpickle" not in blob
    path = tmp_path / "templater.joblib"
    joblib.dump(fitted, path)
    for loaded in (pickle.loads(blob), joblib.load(path)):
        probe = sessions + [["081109 203615 148 INFO dfs.X: unseen message 7"]]
        assert loaded.transform(probe) == fitted.transform(probe)
        assert loaded.templates_ == fitted.templates_


def test_n_jobs_gives_the_same_output(fitted, sessions):
    expected = fitted.transform(sessions)
    parallel = clone(fitted).set_params(n_jobs=2).fit(sessions)
    with joblib.parallel_config(backend="threading"):
        assert parallel.transform(sessions) == expected


def test_in_a_pipeline_with_template_counter(sessions):
    from sklearn.pipeline import make_pipeline

    from sklog.feature_extraction import TemplateCounter

    pipe = make_pipeline(DrainTemplater(log_format="HDFS"), TemplateCounter())
    counts = pipe.fit_transform(sessions)
    assert counts.shape[0] == len(sessions)
    assert counts.sum() == sum(len(s) for s in sessions)
    restored = pickle.loads(pickle.dumps(pipe))
    a, b = (np.asarray(m.toarray() if hasattr(m, "toarray") else m)
            for m in (restored.transform(sessions), pipe.transform(sessions)))
    np.testing.assert_array_equal(a, b)


def test_agrees_with_drain3_template_miner(fitted, sessions):
    """Same templates as drain3's own add_log_message/match with the same settings."""
    from sklog.benchmarks.templating import _drain3_miner

    header = log_format_regex(fitted.log_format_)
    messages = [header.match(line).group("Content") for s in sessions for line in s]
    miner = _drain3_miner(fitted)
    for message in messages:
        miner.add_log_message(message)
    expected = [miner.match(m).get_template() for m in messages]
    assert [t for s in fitted.transform(sessions) for t in s] == expected


def test_stage_shortcuts_do_not_change_output(sessions):
    fitted = DrainTemplater(log_format="HDFS", engine="python").fit(sessions)
    assert any(fitted._shortcuts)  # HDFS masking: texts recur before the IP mask
    plain = copy.copy(fitted)
    plain._shortcuts = [{} for _ in fitted._shortcuts]
    probe = sessions + _hdfs_like_sessions(15, seed=1)
    assert plain.transform(probe) == fitted.transform(probe)
