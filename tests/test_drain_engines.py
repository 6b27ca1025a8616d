"""DrainTemplater's polars engine gives the templates of the line-by-line engine, everywhere."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from sklog.datasets import load_loghub_2k
from sklog.preprocessing import DEFAULT_MASKING, DrainTemplater, loghub_presets
from sklog.preprocessing._batch import rust_compatible
from sklog.preprocessing._drain import _header_prefixes
from sklog.preprocessing._masks import fusable, keeps_token_count

pytest.importorskip("polars")


def _both(sessions, **params):
    """``(templates_, fit_transform output, transform output)`` of each engine."""
    out = []
    for engine in ("python", "polars"):
        templater = DrainTemplater(engine=engine, **params)
        fitted = templater.fit_transform(sessions)
        out.append((templater.templates_, fitted, templater.transform(sessions)))
    return out


def _assert_same(sessions, **params):
    python, polars = _both(sessions, **params)
    assert polars[0] == python[0]
    assert polars[1] == python[1] == python[2] == polars[2]
    return python


@pytest.mark.parametrize("system", sorted(loghub_presets()))
def test_engines_agree_on_loghub_samples(system):
    lines = load_loghub_2k(system).data
    _assert_same([lines[:1000], lines[1000:]], log_format=system)


def test_engines_agree_on_lines_only_python_can_read():
    # non-ASCII text, the separators Python alone calls whitespace, a line break,
    # and headers that fit only where a field holds a stop's first character
    sessions = [[
        "081109 203615 148 INFO dfs.DataNode: Receiving block blk_-16 src: /10.0.0.1:50010",
        "081109 203615 148 INFO a:b: Receiving block blk_17 src: /10.0.0.2:50010",
        "081109 203615 148 INFO dfs.DataNode: Receiving blöck blk_18 src: /10.0.0.3:1",
        "081109 203615 148 INFO dfs.DataNode:\x1cReceiving block blk_19",
        "081109\x1d203615 148 INFO dfs.DataNode: Receiving block blk_20",
        "081109 203615 148 INFO dfs.DataNode: two\nlines blk_21",
        "  081109 203615 148 INFO dfs.DataNode: Receiving block blk_22  ",
        "not a header at all: 12 blk_23",
        "",
        "\t",
        "081109 203615 148 INFO: missing component 14",
    ]]
    python = _assert_same(sessions, log_format="HDFS")
    assert "a:b" not in " ".join(python[0])  # <Component> 'a:b' was cut off, as LogPAI does


def _mutated(lines, seed, n=300):
    """Header-like lines with separator characters inserted, swapped and deleted at random."""
    rng = np.random.default_rng(seed)
    alphabet = list(": [](),-|@\t") + ["::", ": ", "] ", " [", "  "]
    out = []
    for line in rng.choice(lines, size=n):
        chars = list(line)
        for _ in range(int(rng.integers(1, 6))):
            i = int(rng.integers(0, len(chars) + 1))
            kind = rng.integers(0, 3)
            if kind == 0:
                chars.insert(i, str(rng.choice(alphabet)))
            elif kind == 1 and i < len(chars):
                del chars[i]
            elif i < len(chars):
                chars[i] = str(rng.choice(alphabet))
        out.append("".join(chars))
    return out


@pytest.mark.parametrize("system", sorted(loghub_presets()))
def test_engines_agree_on_mutated_headers(system):
    """Where a header almost fits: the Rust prefixes must find exactly the atomic fields."""
    lines = load_loghub_2k(system).data
    mutated = _mutated(lines, seed=len(system))
    fitted = DrainTemplater(log_format=system, engine="python").fit([lines])
    batch = fitted._masker()
    assert batch(mutated) == batch.python_path(mutated)


@pytest.mark.parametrize("masking", [
    list(DEFAULT_MASKING),  # lookarounds: these run with Python's re
    [r"\d*"],  # matches the empty string: engines differ on where, so Python runs it
    [r"x{,2}y", r"(\w+)=\1"],  # Python-only syntax: {,n} and a backreference
    [r"0x.*?\s", r"\b[KGTM]?B\b"],  # lazy and word boundaries: Rust
])
def test_engines_agree_with_any_masking(masking):
    sessions = [["size=12 size=12 0xff 3 KB at 10.0.0.1:80 xxy", "abc 1.5e3 x 0x1F B"],
                ["id d9f1c3a2-1b2c-4d5e-8f90-0a1b2c3d4e5f done in 4 ms", "size=1 size=2"]]
    _assert_same(sessions, masking=masking)


def test_rust_compatible():
    assert rust_compatible(r"blk_-?\d+")
    assert rust_compatible(r"(\d+\.){3}\d+(:\d+)?")
    assert not rust_compatible(r"(?<![\d.])\d+")  # lookbehind
    assert not rust_compatible(r"\d*")  # may match the empty string
    assert not rust_compatible(r"a{,3}b")  # Python's {,n}
    assert not rust_compatible(r"(a)\1")  # backreference


def test_header_prefixes():
    strict, loose = _header_prefixes("<Date> <Time> <Level> <Component>(\\[<Pid>\\])?: <Content>")
    # <Component> stops at '[' or ': ', <Pid> at ']: ': each has an exact form
    component = r"(?:[^\[:]|:+[^\[:\s])*:*"
    pid = r"(?:[^\]]|\]+(?::\]+)*(?:[^\]:]|:[^\]\s]))*(?:\]+(?::\]+)*:?)?"
    assert strict == r"^\S*\s+\S+\s+\S+\s+" + component + r"(\[" + pid + r"\])?:\s+"
    assert loose is None
    assert re.fullmatch(pid, "1]:2] :]]") and not re.fullmatch(pid, "1]:]]: x")
    assert _header_prefixes("<Content> [<Level>]") is None  # <Content> does not end the format
    assert _header_prefixes("<Level>|<Other>: <Content>") is None  # two alternatives
    assert _header_prefixes(r"<Level>\|<Other>: <Content>") is not None
    for preset in loghub_presets().values():
        assert _header_prefixes(preset["log_format"]) is not None
    # every field has a lookaround-free form: no second, loose pattern is needed
    assert _header_prefixes(r"<Date> <Level> \[<Pid>\] <Component>: <Content>")[1] is None
    assert _header_prefixes("<Date> <Level> - <Content>")[1] is not None
    # several one-character stops, or one of them a character then a run: exact
    assert _header_prefixes(r"<Level>(@<Pid>|/<Tid>)?: <Content>")[1] is None
    assert _header_prefixes(r"<Level>(@<Pid>)?:<Content>") == (r"^[^@:]*(@[^:]*)?:", None)
    # a stop character twice, or a class, is not: a loose pattern checks those lines
    assert _header_prefixes(r"<Level>(:<Pid>)?: <Content>")[1] is not None
    assert _header_prefixes(r"<Level>(\d<Pid>)?: <Content>")[1] is not None


@pytest.mark.parametrize("log_format, field, stops, alphabet", [
    (r"<A>(\[<B>\])?: <Content>", "A", r"\[|:\s", "[: x"),  # several stops, one a run
    (r"<A> \[<B>\]: <Content>", "B", r"\]:\s", "]: x"),  # a character, another, a run
    (r"<A>(@<B>|/<C>)?,<Content>", "A", r"[@/,]", "@/,x"),  # several one-character stops
])
def test_stop_free_fields_hold_exactly_the_text_before_the_first_stop(log_format, field, stops,
                                                                     alphabet):
    """Every string over the stops' characters up to length 6: the field's exact
    lookaround-free form matches it iff no stop begins in it."""
    import itertools

    from sklog.preprocessing._drain import _END, _Field, _parse_format, _stop_free, _stops

    def fields(items):
        for k, item in enumerate(items):
            if isinstance(item, _Field):
                yield item.name, items[k + 1:]
            elif hasattr(item, "alternatives"):
                for alt in item.alternatives:
                    yield from ((name, [*rest, *items[k + 1:]]) for name, rest in fields(alt))

    (items,), _ = _parse_format(log_format)
    rest = dict(fields(items))[field]
    body = re.compile(_stop_free(_stops(rest, [(_END,)])))
    for n in range(7):
        for chars in itertools.product(alphabet, repeat=n):
            text = "".join(chars)
            assert bool(body.fullmatch(text)) == (re.search(stops, text) is None), text


@pytest.mark.parametrize("seed", range(6))
def test_mining_that_skips_repeats_equals_drain_on_every_line(seed):
    """Many short messages over few words: clusters keep changing while messages repeat."""
    rng = np.random.default_rng(seed)
    words = ["a", "b", "c", "d", "e", "f1", "g2", "<*>", "h"]
    messages = [" ".join(rng.choice(words, size=rng.integers(1, 6))) for _ in range(60)]
    sessions = [list(rng.choice(messages, size=rng.integers(1, 30))) for _ in range(40)]
    params = {"masking": [], "similarity_threshold": float(rng.choice([0.2, 0.4, 0.6, 0.8])),
              "depth": int(rng.integers(3, 6)), "max_children": int(rng.integers(2, 5))}
    _assert_same(sessions, **params)
    _assert_same(sessions, max_clusters=5, **params)  # LRU: every line goes to Drain


def test_engine_parameter(monkeypatch):
    sessions = [["open file a.txt", "read 10 bytes"], ["open file b.txt"]]
    with pytest.raises(ValueError, match="engine"):
        DrainTemplater(engine="rust").fit(sessions)
    monkeypatch.setitem(sys.modules, "polars", None)  # polars not installed
    with pytest.raises(ImportError, match="polars"):
        DrainTemplater(engine="polars").fit(sessions)
    auto = DrainTemplater().fit(sessions)  # falls back to the line-by-line engine
    assert auto.transform(sessions) == [["open file <*>", "read <*> bytes"], ["open file <*>"]]


def test_old_pickles_without_engine_load_and_transform():
    templater = DrainTemplater().fit([["open file a.txt"], ["open file b.txt"]])
    state = templater.__getstate__()
    del state["engine"]  # as pickled before the parameter existed
    old = DrainTemplater.__new__(DrainTemplater)
    old.__setstate__(state)
    assert old.get_params()["engine"] == "auto"
    assert old.transform([["open file c.txt"]]) == [["open file <*>"]]


@pytest.mark.slow
def test_engine_comparison_on_the_shared_raw_samples(shared_data):
    from sklog.benchmarks.templating import _engine_markdown, engine_comparison

    rows = engine_comparison(shared_data, repeats=1)
    assert len(rows) == 19  # HDFS, BGL, 16 loghub samples, HDFS held out
    assert all(r["same_templates"] and r["same_template_on_every_line"] for r in rows)
    assert "19 of 19 cases" in "\n".join(_engine_markdown(rows))


@pytest.mark.parametrize("log_format", [
    "<Content> [<Level>]",  # <Content> does not end the format: exact pattern per line
    "<Level>: <Content>|<Other> - <Content2>",  # alternatives
    r"<Date>-<Time> <Level>(\[<Pid>\])? <Content>",
    r"<Level>(@<Pid>|/<Tid>)?: <Content>",  # several stops, one a character then a run
])
def test_engines_agree_with_custom_formats(log_format):
    sessions = [["open file a.txt [INFO]", "2024-10 INFO[12] read 5 bytes", "ERROR: disk full",
                 "x - y z", "2024-10 WARN close 3 files", "no header here 7", "a:b: c 1",
                 "a::: x 2", "a:[1]: y 3", "a@1: z 4", "a/2:: w 5", "a:/3: v 6", "b@: u 7"],
                ["2024-11 INFO[9] read 8 bytes", "INFO: disk ok 4", "q - w e"]]
    _assert_same(sessions, log_format=log_format)


@pytest.mark.parametrize("masking", [
    [r"\d+", r"[A-Z]{2,}"],  # every mask keeps token counts
    [r"\d+", r"/.+?\s", r"[A-Z]{2,}"],  # one that may join tokens, then safe ones
    [r"0x.*?\s"],  # the last mask may join tokens
    [],
])
def test_long_lines_of_no_template_length_skip_masking_with_the_same_templates(masking):
    rng = np.random.default_rng(0)
    words = ["read", "block", "42", "/tmp/x y", "0xff", "ERR", "ok", "  ", "\t"]
    short = [[" ".join(rng.choice(words, size=int(rng.integers(2, 9)))) for _ in range(40)]
             for _ in range(5)]
    long_lines = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(150, 700, 60)]
    long_lines += ["x" * 2000, "a " * 600, "ok " + "7" * 3000 + " ERR"]
    short[0].append("ok " * 400)  # a long line that is a template: never skipped
    fitted = [DrainTemplater(engine=e, masking=masking).fit(short) for e in ("python", "polars")]
    X = [*short, long_lines, [short[0][0], *long_lines[:5], "ok  " * 400]]
    assert fitted[0].templates_ == fitted[1].templates_
    out = fitted[1].transform(X)
    assert out == fitted[0].transform(X)
    assert out[-1][-1] == ("ok " * 400).strip()
    masker = fitted[1]._masker()
    lengths = set(map(len, fitted[1]._template_tokens))
    messages, codes = masker.unique(long_lines, lengths)
    assert len(messages) in codes  # some long lines were not masked at all
    # where a mask may join tokens, a scan of the first tokens runs before it
    assert (masker.one_way_tokens is not None) == any(not keeps_token_count(p) for p in masking)


@pytest.mark.parametrize("masking", [
    [r"((\d+\.){3}\d+,?)+", r"/.+?\s", r"\d+"],  # OpenStack's: the first two share a pass
    [r"\d+", r"/.+?\s"],
    [r"[a-c]+", r"=\S*;", r"x.*y"],
])
def test_fused_masks_equal_masks_one_by_one(masking):
    assert fusable(masking[:1], masking[1], "<*>")
    rng = np.random.default_rng(1)
    alphabet = list("0123456789./,=; <*>abcxyz\t")
    texts = ["".join(rng.choice(alphabet, size=int(n))) for n in rng.integers(1, 60, 3000)]
    masker = DrainTemplater(masking=masking, engine="polars").fit([["x"]])._masker()
    assert len(masker.passes) < len(masking)
    assert masker(texts) == masker.python_path(texts)


def test_fusable_refuses_what_could_differ():
    ip = r"((\d+\.){3}\d+,?)+"
    assert not fusable([ip], r"\d+", "<*>")  # begins with a character of the first
    assert not fusable([r"\d+"], r"/.+?.+?\s", "<*>")  # two runs side by side
    assert not fusable([r"\d+"], r"/.+?", "<*>")  # may end inside a run
    assert not fusable([r"\d+"], r"/\S{2}\s", "<*>")  # counts characters of a run
    assert not fusable([r"\d+"], r"/\w+\s", "<>")  # the run's class lacks the wildcard
    assert not fusable([r"\d+"], r"(?i)/.+?\s", "<*>")  # flags
    assert not fusable([r"(?<=a)\d+"], r"/.+?\s", "")


@pytest.mark.parametrize("pattern", [r"/.+?\s", r"0x.*?\s", r"<\d+\ssec", r"=[a-c]{2,3}\s\w"])
def test_one_way_masks_match_as_the_mask_and_never_count_too_many_tokens(pattern):
    import polars as pl

    from sklog.preprocessing._batch import _more_tokens_than
    from sklog.preprocessing._masks import _one_way, _one_way_tokens

    regex, _ = _one_way(pattern)
    tokens = _one_way_tokens([pattern])
    rng = np.random.default_rng(2)
    alphabet = list("/0x<=abc12 \tsec")
    texts = ["".join(rng.choice(alphabet, size=int(n))) for n in rng.integers(1, 40, 3000)]
    series = pl.Series(texts)
    assert series.str.replace_all(regex, "<*>").to_list() == [
        re.sub(pattern, "<*>", text) for text in texts]
    true_counts = [len(re.sub(pattern, "<*>", text).split()) for text in texts]
    for n in (0, 1, 3, 6):
        more = series.str.contains(_more_tokens_than(tokens, n)).to_list()
        assert all(count > n for count, found in zip(true_counts, more, strict=True) if found)
        assert any(more)  # and proves some (most where its first character always begins it)


def test_one_way_refuses_masks_with_several_matches_from_one_place():
    from sklog.preprocessing._masks import _one_way, _one_way_tokens

    for pattern in [r"\d+", r"a.+?\s+", r"/.*\s", r"a\w*\d", r"(ab|a)\s", r"(?i)/.+?\s"]:
        assert _one_way(pattern) is None, pattern
    assert _one_way_tokens([r"/.+?\s", r"/x\s"]) is None  # both begin with '/'
    assert _one_way_tokens([r"\s.+?\s"]) is None  # begins with whitespace


def test_token_count_in():
    import polars as pl

    from sklog.preprocessing._batch import _token_count_in

    rng = np.random.default_rng(0)
    texts = ["", "  ", "a", " a ", "a b", "a\tb  c", *(
        " " * int(rng.integers(0, 3)) + " ".join("x" * int(k) for k in rng.integers(1, 4, n))
        + "\t" * int(rng.integers(0, 2)) for n in rng.integers(1, 30, 200))]
    for lengths in [(1,), (3, 5), (0, 2), (2, 3, 4, 17, 25), tuple(range(1, 40, 3))]:
        found = pl.Series(texts).str.contains(_token_count_in(lengths)).to_list()
        assert found == [len(text.split()) in lengths for text in texts], lengths
    assert _token_count_in(()) is None and _token_count_in((0,)) == r"^\s*$"


def test_keeps_token_count():
    for pattern in [r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?", r"\b[KGTM]?B\b", r"[\w-]+",
                    r"(?i)[a-z]+", r"(/|)\d+", r"[!-~]+"]:
        assert keeps_token_count(pattern), pattern
    for pattern in [r"0x.*?\s", r"<\d+\ssec", r"[^a]", r"\d*", r"[ -~]+", r"\W", r"a|\D",
                    r"x\u00a0"]:
        assert not keeps_token_count(pattern), pattern
