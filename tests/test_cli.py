"""The ``sklog`` command: fit/detect round trips, tracing to raw lines, clean errors."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from importlib import resources

import joblib
import pytest

from sklog import __version__
from sklog.cli import MODEL_FORMAT, main

BUNDLED = resources.files("sklog.datasets") / "data"


def _one_error_line(capsys, code):
    captured = capsys.readouterr()
    assert code != 0
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err and lines[0].startswith("sklog")
    return lines[0]


def test_fit_detect_thunderbird_windows(shared_data, tmp_path, capsys):
    log = shared_data / "loghub" / "Thunderbird" / "Thunderbird_2k.log"
    model = tmp_path / "tb.joblib"
    assert main(["fit", str(log), "--window", "20", "--method", "pca", "--out", str(model),
                 "--quiet"]) == 0
    saved = joblib.load(model)
    assert saved["session_rule"] == {"mode": "window", "size": 20}
    assert saved["sklog_version"] == __version__ and saved["trained_on"]["n_sessions"] == 100
    capsys.readouterr()
    assert main(["detect", str(log), "--model", str(model), "--format", "json",
                 "--top-lines", "3"]) == 0
    captured = capsys.readouterr()
    assert "Thunderbird_2k.log: 100 sessions scored" in captured.err
    records = [json.loads(line) for line in captured.out.splitlines()]
    n_flagged = int(re.search(r"(\d+) anomalous", captured.err).group(1))
    assert len(records) == n_flagged
    raw = log.read_text(errors="replace").splitlines()
    for rec in records:
        first, last = map(int, re.fullmatch(r"lines (\d+)-(\d+)", rec["session"]).groups())
        assert last - first + 1 == rec["n_lines"] == 20 and rec["anomalous"]
        assert 1 <= len(rec["top_lines"]) <= 3
        weights = [line["weight"] for line in rec["top_lines"]]
        assert weights == sorted(weights, reverse=True)  # what drove the score, first
        for line in rec["top_lines"]:
            assert first <= line["line"] <= last
            assert raw[line["line"] - 1] == line["text"]  # traced back to the raw line
    # --all prints every window, in table form
    assert main(["detect", str(log), "--model", str(model), "--all", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"^(ANOMALY|normal ) lines", out, flags=re.M)) == 100


@pytest.fixture(scope="module")
def hdfs_slice(tmp_path_factory):
    """The first 15,000 lines of the bundled raw HDFS sample and its label table."""
    folder = tmp_path_factory.mktemp("hdfs")
    with gzip.open(BUNDLED / "hdfs_sample.log.gz", "rt") as fh:
        lines = [next(fh) for _ in range(15_000)]
    log = folder / "hdfs.log"
    log.write_text("".join(lines))
    labels = folder / "labels.csv"
    with gzip.open(BUNDLED / "hdfs_sample_labels.csv.gz", "rt") as fh:
        labels.write_text(fh.read())
    return log, labels, [line.rstrip("\n") for line in lines]


def test_label_column_and_a_preset_that_names_it(tmp_path, capsys):
    """--labels column1 cuts the label off each line, and the BGL preset's <Label> field
    with it: the header is read in place (the message starts after the level)."""
    lines = []
    for i in range(200):
        bad = i % 20 == 3 and i // 20 % 3 == 0
        lines.append(f"{'KERNDTLB' if bad else '-'} {1117838570 + i} 2005.06.03 R02-M1-N0 "
                     f"2005-06-03-15.42.{i % 60:02d}.{i:06d} R02-M1-N0 RAS KERNEL "
                     + ("FATAL data TLB error interrupt" if bad
                        else "INFO instruction cache parity error corrected"))
    log, model = tmp_path / "bgl.log", tmp_path / "m.joblib"
    log.write_text("\n".join(lines) + "\n")
    assert main(["fit", str(log), "--window", "20", "--labels", "column1", "--log-format", "BGL",
                 "--method", "logistic", "--out", str(model), "--quiet"]) == 0
    templater = joblib.load(model)["pipeline"].named_steps["draintemplater"]
    assert templater.log_format_.startswith("<Timestamp> ")
    assert set(templater.templates_) == {"instruction cache parity error corrected",
                                         "data TLB error interrupt"}


def test_fit_detect_hdfs_session_key(hdfs_slice, tmp_path, capsys):
    log, labels, lines = hdfs_slice
    model = tmp_path / "hdfs.joblib"
    code = main(["fit", str(log), "--session-key", r"blk_-?\d+", "--labels", str(labels),
                 "--method", "invariants", "--log-format", "HDFS", "--out", str(model)])
    assert code == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "fitting invariants (detector)" in err and "anomalous" in err
    saved = joblib.load(model)
    assert saved["session_rule"] == {"mode": "key", "key": r"blk_-?\d+"}
    assert saved["trained_on"]["n_fit"] == (saved["trained_on"]["n_sessions"]
                                            - saved["trained_on"]["n_anomalies"])
    assert main(["detect", str(log), "--model", str(model), "--format", "json"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert records, captured.err
    for rec in records:
        assert re.fullmatch(r"blk_-?\d+", rec["session"])
        for line in rec["top_lines"]:
            assert lines[line["line"] - 1] == line["text"]
            assert rec["session"] in line["text"]
    table = dict(row.split(",") for row in labels.read_text().splitlines()[1:])
    flagged = [table[rec["session"]] for rec in records]
    # most flagged blocks are labeled anomalies (invariants are precise on HDFS)
    assert flagged.count("Anomaly") >= 0.5 * len(flagged)
    # table output traces the same sessions
    assert main(["detect", str(log), "--model", str(model), "--quiet"]) == 0
    assert capsys.readouterr().out.count("ANOMALY blk_") == len(records)


def test_supervised_method_needs_labels(hdfs_slice, tmp_path, capsys):
    log, _, _ = hdfs_slice
    code = main(["fit", str(log), "--session-key", r"blk_-?\d+", "--method", "logistic",
                 "--out", str(tmp_path / "m.joblib")])
    assert "supervised" in _one_error_line(capsys, code)


@pytest.mark.parametrize("argv, expected", [
    (["fit", "x.log", "--window", "20", "--out", "m.joblib"], "--method"),
    (["fit", "x.log", "--method", "pca", "--out", "m.joblib"], "--session-key"),
    (["fit", "x.log", "--window", "20", "--session-key", "a", "--method", "pca", "--out", "m"],
     "not allowed"),
    (["fit", "x.log", "--window", "twenty", "--method", "pca", "--out", "m"], "invalid int"),
    (["fit", "x.log", "--window", "20", "--method", "nope", "--out", "m"], "invalid choice"),
    (["detect", "x.log"], "--model"),
    (["frobnicate"], "invalid choice"),
    (["fit", "x.log", "--window", "20", "--method", "pca", "--out", "m", "--frobnicate"],
     "unrecognized arguments: --frobnicate"),
    (["bench", "--repeat", "0"], "expected a positive integer"),
    (["bench", "--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_arguments_one_line(argv, expected, capsys):
    line = _one_error_line(capsys, main(argv))
    assert expected in line


def test_unreadable_files_one_line(tmp_path, capsys):
    missing = tmp_path / "missing.log"
    code = main(["fit", str(missing), "--window", "5", "--method", "pca", "--out",
                 str(tmp_path / "m.joblib")])
    assert "does not exist" in _one_error_line(capsys, code)
    code = main(["fit", str(tmp_path), "--window", "5", "--method", "pca", "--out",
                 str(tmp_path / "m.joblib")])
    assert "is a directory" in _one_error_line(capsys, code)
    log = tmp_path / "a.log"
    log.write_text("x\n")
    code = main(["detect", str(log), "--model", str(missing)])
    assert "does not exist" in _one_error_line(capsys, code)
    code = main(["fit", str(log), "--session-key", "(", "--method", "pca", "--out", "m"])
    assert "not a valid regex" in _one_error_line(capsys, code)
    code = main(["fit", str(log), "--window", "5", "--method", "pca", "--out",
                 str(tmp_path / "no" / "m.joblib")])
    assert "cannot write" in _one_error_line(capsys, code)
    code = main(["fit", str(log), "--window", "5", "--labels", str(missing), "--method", "pca",
                 "--out", "m"])
    assert "needs --session-key" in _one_error_line(capsys, code)


def test_wrong_model_files_one_line(tmp_path, capsys):
    log = tmp_path / "a.log"
    log.write_text("hello\n")
    text = tmp_path / "not_a_model.joblib"
    text.write_text("this is not a pickle")
    assert "not a model file" in _one_error_line(capsys, main(["detect", str(log), "--model",
                                                                str(text)]))
    other = tmp_path / "other.joblib"
    joblib.dump({"some": "dict"}, other)
    assert "not a model file" in _one_error_line(capsys, main(["detect", str(log), "--model",
                                                                str(other)]))
    old = tmp_path / "old.joblib"
    joblib.dump({"format": MODEL_FORMAT, "sklog_version": "0.0.1", "pipeline": None}, old)
    line = _one_error_line(capsys, main(["detect", str(log), "--model", str(old)]))
    assert "sklog 0.0.1" in line and __version__ in line and "refit" in line


def test_help_everywhere(capsys):
    for argv in (["--help"], *([cmd, "--help"] for cmd in
                               ("fit", "detect", "bench", "demo", "datasets"))):
        assert main(argv) == 0
        assert "usage: sklog" in capsys.readouterr().out


def test_help_lists_the_registered_methods(capsys):
    from sklog.methods import METHODS

    assert main(["fit", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for name, method in METHODS.items():
        assert f"{name} {method.description}" in out
    assert "compression" not in out  # ALogSCAN is a teacher/student CNN detector


def test_help_imports_no_estimator_and_no_benchmark():
    """``sklog --help`` and argument errors stay fast: no numpy, torch, scikit-learn or
    sklog.benchmarks."""
    code = ("import sys\nfrom sklog.cli import main\n"
            "assert main(['--help']) == 0 and main(['fit', '--help']) == 0\n"
            "assert main(['fit', 'x.log', '--window', 'ten']) == 2\n"
            "assert main(['detect', 'x.log', '--top-lines', '-1', '--model', 'm']) == 2\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sklearn', "
            "'scipy', 'numpy') or m.startswith('sklog.benchmarks')), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_datasets_list(capsys):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "load_hdfs_sample" in out and "HDFS_v1" in out and "Thunderbird" in out
    assert "unknown archive" in _one_error_line(capsys, main(["datasets", "fetch", "nope"]))


def test_subprocess_error_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sklog.cli", "detect", str(tmp_path / "missing.log"),
         "--model", str(tmp_path / "missing.joblib")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("sklog detect: error:")


def test_demo_small(tmp_path, capsys):
    """The demo end to end with one method: table, figure, a traced anomalous block."""
    figure = tmp_path / "demo.png"
    assert main(["demo", "--methods", "pca", "--out", str(figure)]) == 0
    out = capsys.readouterr().out
    assert "| hdfs_sample | natural | PCA |" in out
    assert figure.stat().st_size > 10_000 and figure.read_bytes()[:4] == b"\x89PNG"
    block = re.search(r"^block (blk_-?\d+)  label anomaly  (\d+) lines", out, flags=re.M)
    assert block is not None
    traced = re.findall(r"^ [* ] line +\d+  weight .*?  (.*)$", out, flags=re.M)
    assert traced and all(block.group(1) in line for line in traced)
    assert out.count("\n *") >= 1


def test_bench_subcommand_lists_cells(capsys):
    assert main(["bench", "--list", "--datasets", "hdfs_raw", "--quick"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out and all(line.startswith("hdfs_raw") and " quick " in line for line in out)
    assert "no benchmark cell" in _one_error_line(capsys, main(["bench", "--methods", "nope"]))


# -- bad or mismatched input (issue 14 item 3) ------------------------------------------------

def _hdfs_like(n=400):
    return "".join(f"081109 2036{i % 60:02d} 143 INFO dfs.DataNode$PacketResponder: "
                   f"PacketResponder {i % 3} for block blk_{i % 20} terminating\n"
                   for i in range(n))


def _fit_quiet(log, model, *extra):
    assert main(["fit", str(log), "--window", "20", "--method", "pca", "--out", str(model),
                 "--quiet", *extra]) == 0


def test_binary_file_refused(tmp_path, capsys):
    binary = tmp_path / "core.dump"
    binary.write_bytes(bytes(range(256)) * 40)
    code = main(["fit", str(binary), "--window", "5", "--method", "pca", "--out",
                 str(tmp_path / "m.joblib")])
    assert "is a binary file, not a text log" in _one_error_line(capsys, code)
    assert code == 2
    text = tmp_path / "a.log"
    text.write_text(_hdfs_like())
    _fit_quiet(text, tmp_path / "m.joblib")
    capsys.readouterr()
    code = main(["detect", str(binary), "--model", str(tmp_path / "m.joblib")])
    assert "is a binary file" in _one_error_line(capsys, code)


@pytest.mark.parametrize("compress", ["gzip", "bz2", "zstd"])
def test_compressed_without_extension_read_by_magic_bytes(compress, tmp_path, capsys):
    import bz2

    data = _hdfs_like().encode()
    if compress == "zstd":
        zstandard = pytest.importorskip("zstandard")
        packed = zstandard.ZstdCompressor().compress(data)
    else:
        packed = {"gzip": gzip, "bz2": bz2}[compress].compress(data)
    log = tmp_path / "archive_without_extension"
    log.write_bytes(packed)
    model = tmp_path / "m.joblib"
    _fit_quiet(log, model, "--log-format", "HDFS")
    assert joblib.load(model)["trained_on"]["n_sessions"] == 20  # 400 text lines, not bytes
    assert main(["detect", str(log), "--model", str(model)]) == 0
    err = capsys.readouterr().err
    assert "20 sessions scored" in err and "warning" not in err


def test_detect_empty_file_or_no_session(tmp_path, capsys):
    log = tmp_path / "a.log"
    log.write_text(_hdfs_like())
    model = tmp_path / "m.joblib"
    assert main(["fit", str(log), "--session-key", r"blk_\d+", "--method", "pca", "--out",
                 str(model), "--quiet"]) == 0
    empty = tmp_path / "empty.log"
    empty.write_text("")
    code = main(["detect", str(empty), "--model", str(model)])
    assert code == 2 and "empty.log is empty" in _one_error_line(capsys, code)
    other = tmp_path / "other.log"
    other.write_text("no block id on this line\n" * 50)
    code = main(["detect", str(other), "--model", str(model)])
    line = _one_error_line(capsys, code)
    assert code == 2 and "no session found" in line and r"blk_\\d+" in line


def test_unknown_log_format_is_a_usage_error_before_fitting(tmp_path, capsys):
    log = tmp_path / "a.log"
    log.write_text(_hdfs_like())
    code = main(["fit", str(log), "--window", "20", "--method", "pca", "--log-format", "Nope",
                 "--out", str(tmp_path / "m.joblib")])
    line = _one_error_line(capsys, code)  # nothing else: no "fitting ..." line
    assert code == 2
    assert line.startswith("sklog fit: error: argument --log-format:") and "'Nope'" in line
    assert "ValueError" not in line and "HDFS" in line


def test_detect_warns_when_the_log_does_not_fit_the_model(tmp_path, capsys):
    log = tmp_path / "a.log"
    log.write_text(_hdfs_like())
    other = tmp_path / "other.log"
    other.write_text("".join(f"user {i} logged in from host{i}\n" for i in range(100)))
    with_format, plain = tmp_path / "f.joblib", tmp_path / "p.joblib"
    _fit_quiet(log, with_format, "--log-format", "HDFS")
    _fit_quiet(log, plain)
    capsys.readouterr()
    assert main(["detect", str(log), "--model", str(with_format)]) == 0
    assert "warning" not in capsys.readouterr().err  # the log it was trained on
    assert main(["detect", str(other), "--model", str(with_format)]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warned == ["sklog detect: warning: 100 of the first 100 lines do not fit the "
                      "model's --log-format 'HDFS': is this log in the format the model was "
                      "trained on?"]
    assert main(["detect", str(other), "--model", str(plain)]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warned) == 1
    assert "100 of the first 100 lines match none of the model's templates" in warned[0]


def test_python_warnings_one_line_once(tmp_path, capsys):
    log = tmp_path / "a.log"
    log.write_text(_hdfs_like(200) + "x" * 20_000 + "\n" + "y" * 20_000 + "\n")
    model = tmp_path / "m.joblib"
    assert main(["fit", str(log), "--window", "20", "--method", "pca", "--out",
                 str(model), "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("sklog fit: warning: ") and "10000" in err[0].replace(",", "")
    assert ".py" not in err[0]  # no file path, no source line


# -- sklog fit --verbose / --max-epochs (issue 14 item 2) -------------------------------------

def test_fit_help_shows_verbose_and_max_epochs(capsys):
    assert main(["fit", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--verbose" in out and "--no-verbose" in out and "--max-epochs N" in out


def test_max_epochs_refused_for_methods_without_epochs(tmp_path, capsys):
    log = tmp_path / "a.log"
    log.write_text(_hdfs_like())
    code = main(["fit", str(log), "--window", "20", "--method", "pca", "--max-epochs", "2",
                 "--out", str(tmp_path / "m.joblib")])
    line = _one_error_line(capsys, code)
    assert code == 2 and "--max-epochs" in line and "does not train in epochs" in line
    code = main(["fit", str(log), "--window", "20", "--method", "alogscan", "--max-epochs",
                 "0", "--out", str(tmp_path / "m.joblib")])
    assert "expected a positive integer" in _one_error_line(capsys, code)


def test_max_epochs_and_verbose_reach_the_neural_estimator(tmp_path, capsys):
    pytest.importorskip("torch")
    log = tmp_path / "a.log"
    log.write_text(_hdfs_like())
    model = tmp_path / "m.joblib"
    assert main(["fit", str(log), "--window", "20", "--method", "alogscan", "--max-epochs",
                 "1", "--verbose", "--out", str(model)]) == 0
    estimator = joblib.load(model)["pipeline"].steps[-1][1]
    assert estimator.max_epochs == 1 and estimator.verbose is True
    captured = capsys.readouterr()
    assert captured.out == ""  # progress goes to stderr, like every message of sklog fit
    assert "epoch" in captured.err and "train_loss" in captured.err
    assert main(["fit", str(log), "--window", "20", "--method", "alogscan", "--max-epochs",
                 "1", "--out", str(model), "--quiet"]) == 0
    assert joblib.load(model)["pipeline"].steps[-1][1].verbose is False  # not a terminal


# -- explanations of the count-based classifiers (issue 14 item 4) ----------------------------

def _log_and_labels(sessions, y):
    """The blocks as one log file's text, and their ``BlockId,Label`` table."""
    log = "".join(line + "\n" for session in sessions for line in session)
    labels = "BlockId,Label\n" + "".join(
        f"blk_{i},{'Anomaly' if label else 'Normal'}\n" for i, label in enumerate(y))
    return log, labels


@pytest.mark.parametrize("method", ["logistic", "decision_tree", "linear_svc",
                                    "gradient_boosting"])
def test_detect_shows_the_error_line_first_for_count_classifiers(method, tmp_path, capsys,
                                                                  hdfs_like_blocks):
    log, labels = tmp_path / "train.log", tmp_path / "labels.csv"
    log_text, label_text = _log_and_labels(*hdfs_like_blocks(60, 30))
    log.write_text(log_text)
    labels.write_text(label_text)
    model = tmp_path / "m.joblib"
    assert main(["fit", str(log), "--session-key", r"blk_\d+", "--labels", str(labels),
                 "--method", method, "--log-format", "HDFS", "--out", str(model),
                 "--quiet"]) == 0
    new = tmp_path / "new.log"
    new.write_text(_log_and_labels(*hdfs_like_blocks(10, 10, seed=1))[0])
    capsys.readouterr()
    assert main(["detect", str(new), "--model", str(model), "--format", "json",
                 "--top-lines", "2"]) == 0
    captured = capsys.readouterr()
    assert "20 sessions scored, 10 anomalous" in captured.err
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert len(records) == 10
    for rec in records:
        first, second = rec["top_lines"]
        assert " ERROR " in first["text"] and "failed" in first["text"]
        assert first["line"] == 4 * (int(rec["session"][4:]) - 10) + 10 * 3 + 3  # third line
        assert first["weight"] > 0 and first["weight"] > second["weight"]
    # the table shows the same line first, with its weight
    assert main(["detect", str(new), "--model", str(model), "--top-lines", "1",
                 "--quiet"]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("    ")]
    assert len(shown) == 10 and all(" weight " in s and " ERROR " in s for s in shown)
