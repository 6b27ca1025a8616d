"""What a masking regex can match, read from Python's own parse (``re._parser``).

:class:`~sklog.preprocessing._batch.BatchMasker` runs masks in polars' Rust
engine and skips work on long lines; each shortcut needs a fact about a mask
that holds for every text, which these functions prove from its parse tree or
refuse to claim: whether replacing its matches keeps token counts, whether it
may share one pass with the masks before it, whether it matches one way from
where it begins. Characters are those of a line on the Rust path: ASCII but
``\\n`` and ``\\x1c``-``\\x1f`` (other lines are masked with ``re``).
"""

from __future__ import annotations

import re

_WHITESPACE = [chr(c) for c in range(0x110000) if chr(c).isspace()]


def _consumes_no_whitespace(items):
    """Whether a parsed regex (``re._parser``) can match no whitespace character.

    Conservative: ``.``, a negated literal or class, ``\\s``, ``\\W``, ``\\D``
    and anything unknown count as able to.
    """
    from re import _constants as c

    safe_categories = {c.CATEGORY_DIGIT, c.CATEGORY_WORD, c.CATEGORY_NOT_SPACE}
    for op, value in items:
        if op is c.LITERAL:
            if chr(value).isspace():
                return False
        elif op is c.IN:
            for kind, item in value:
                if kind is c.LITERAL and not chr(item).isspace():
                    continue
                if kind is c.RANGE and not any(item[0] <= ord(w) <= item[1]
                                               for w in _WHITESPACE):
                    continue
                if kind is c.CATEGORY and item in safe_categories:
                    continue
                return False
        elif op is c.BRANCH:
            if not all(_consumes_no_whitespace(branch) for branch in value[1]):
                return False
        elif op is c.SUBPATTERN:
            if not _consumes_no_whitespace(value[3]):
                return False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            if not _consumes_no_whitespace(value[2]):
                return False
        elif op is c.ATOMIC_GROUP:
            if not _consumes_no_whitespace(value):
                return False
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT, c.GROUPREF):
            continue  # zero-width, or a repeat of a group already checked
        else:
            return False
    return True


def keeps_token_count(pattern):
    """Whether replacing ``pattern``'s matches by a non-blank word keeps every text's token count.

    True when no match can be empty (an empty match may put a new token
    between two spaces) or hold whitespace (which would join tokens).
    """
    try:
        parsed = re._parser.parse(pattern)
    except (re.error, TypeError):
        return False
    return parsed.getwidth()[0] > 0 and _consumes_no_whitespace(parsed)


#: The characters of a line on the Rust path: ASCII but ``\n`` and ``\x1c``-``\x1f``.
_RUST_ASCII = frozenset(c for c in range(128) if c != 10 and not 0x1C <= c <= 0x1F)

_SPACE_CODES = frozenset({9, 10, 11, 12, 13, 32})


def _category_chars():
    """``re``'s character categories (``\\d``, ``\\S``, ...) -> their ``_RUST_ASCII`` codes."""
    from re import _constants as c

    chars = {c.CATEGORY_DIGIT: frozenset(range(48, 58)), c.CATEGORY_SPACE: _SPACE_CODES,
             c.CATEGORY_WORD: frozenset(ch for ch in _RUST_ASCII
                                        if chr(ch).isalnum() or ch == 95)}
    for positive, negative in ((c.CATEGORY_DIGIT, c.CATEGORY_NOT_DIGIT),
                               (c.CATEGORY_SPACE, c.CATEGORY_NOT_SPACE),
                               (c.CATEGORY_WORD, c.CATEGORY_NOT_WORD)):
        chars[negative] = _RUST_ASCII - chars[positive]
    return chars


_CATEGORY_CHARS = _category_chars()


def _atom_chars(op, value):
    """The characters of ``_RUST_ASCII`` that one parsed single-character atom
    accepts, or ``None`` when it is not one."""
    from re import _constants as c

    if op is c.LITERAL:
        chars = {value}
    elif op is c.NOT_LITERAL:
        chars = set(_RUST_ASCII) - {value}
    elif op is c.ANY:
        chars = set(_RUST_ASCII)
    elif op is c.IN:
        chars, negate = set(), False
        for kind, item in value:
            if kind is c.NEGATE:
                negate = True
            elif kind is c.LITERAL:
                chars.add(item)
            elif kind is c.RANGE:
                chars.update(range(item[0], item[1] + 1))
            elif kind is c.CATEGORY and item in _CATEGORY_CHARS:
                chars |= _CATEGORY_CHARS[item]
            else:
                return None
        if negate:
            chars = set(_RUST_ASCII) - chars
    else:
        return None
    return frozenset(chars & _RUST_ASCII)


def _children(op, value):
    """The item lists a parsed group, repeat or alternation holds, else ``None``."""
    from re import _constants as c

    if op is c.SUBPATTERN:
        return [value[3]]
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        return [value[2]]
    if op is c.BRANCH:
        return value[1]
    if op is c.ATOMIC_GROUP:
        return [value]
    return None


def _alphabet(items):
    """Every character a match of the parsed regex ``items`` can hold, or ``None``."""
    from re import _constants as c

    out = set()
    for op, value in items:
        chars = _atom_chars(op, value)
        if chars is not None:
            out |= chars
            continue
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # zero-width
        parts = _children(op, value)
        if parts is None:
            return None
        for part in parts:
            chars = _alphabet(part)
            if chars is None:
                return None
            out |= chars
    return out


def _parsed(pattern):
    """``re``'s parse of ``pattern`` without flags other than the default, else ``None``."""
    try:
        parsed = re._parser.parse(pattern)
    except (re.error, TypeError):
        return None
    return parsed if parsed.state.flags == re.UNICODE else None


def fusable(before, pattern, wildcard):
    """Whether ``pattern``, applied after ``before`` (a list of masks), may join them
    in one alternation pass: the same text on every line of the Rust path.

    Sufficient: ``pattern`` is a sequence of single-character atoms and their
    repeats; those whose characters are disjoint from ``C`` (every character of
    a ``before`` match and of ``wildcard``) begin and end it and separate any two
    of the others, which are unbounded repeats (at most one character required)
    of an atom that accepts all of ``C``. Runs of ``C`` characters, however
    long, are then alike to ``pattern`` and the matches of both keep their
    places, whether or not ``before`` replaced them first (OpenStack's
    ``((\\d+\\.){3}\\d+,?)+`` then ``/.+?\\s``).
    """
    from re import _constants as c

    if not wildcard:
        return False
    taken = {ord(ch) for ch in wildcard}
    for earlier in before:
        parsed = _parsed(earlier)
        chars = None if parsed is None else _alphabet(parsed)
        if chars is None:
            return False
        taken |= chars
    parsed = _parsed(pattern)
    if parsed is None or not len(parsed):
        return False
    kinds = []  # per item: "D" (no C character, at least one), "d" (none, maybe empty), "C"
    for op, value in parsed:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and len(value[2]) == 1:
            low, high, ((atom_op, atom_value),) = value
        else:
            low, high, atom_op, atom_value = 1, 1, op, value
        chars = _atom_chars(atom_op, atom_value)
        if chars is None:
            return False
        if not chars & taken:
            kinds.append("D" if low >= 1 else "d")
        elif chars >= taken and high is c.MAXREPEAT and low <= 1:
            kinds.append("C")
        else:
            return False
    if kinds[0] != "D" or kinds[-1] != "D":
        return False
    runs = "".join(kinds).replace("d", "").split("D")  # what lies between required D items
    return all(run in ("", "C") for run in runs)


def _char_class(chars):
    """A regex class of the ``chars`` (codes), as hex ranges."""
    codes, parts, i = sorted(chars), [], 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        parts.append(f"\\x{codes[i]:02X}" + (f"-\\x{codes[j]:02X}" if j > i else ""))
        i = j + 1
    return "[" + "".join(parts) + "]"


def _one_way(pattern):
    """``(regex, first)``: a regex that matches what ``pattern`` matches on the Rust path,
    each match the only one from where it begins, and the characters it begins
    with; ``None`` where not shown.

    Shown for a sequence of single-character atoms and their repeats, each repeat
    followed by a required atom it cannot match, and last a single character or a
    fixed count. A lazy ``A+?B`` or ``A*?B`` that ends the pattern stops at the
    first ``B`` (``/.+?\\s`` is ``/.\\S*\\s``). With one way to match, no regex
    engine can match it otherwise, even one that only asks whether some match exists.
    """
    from re import _constants as c

    parsed = _parsed(pattern)
    if parsed is None or not len(parsed):
        return None
    items = []  # (chars, low, high)
    for op, value in parsed:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and len(value[2]) == 1:
            low, high, ((atom_op, atom_value),) = value
            lazy = op is c.MIN_REPEAT and low != high
        else:
            low, high, atom_op, atom_value, lazy = 1, 1, op, value, False
        chars = _atom_chars(atom_op, atom_value)
        if chars is None or not chars:
            return None
        items.append((chars, low, high, lazy))
    if (len(items) >= 2 and items[-2][3] and items[-2][2] is c.MAXREPEAT
            and items[-1][1:3] == (1, 1)):
        (chars, low, _, _), last = items[-2], items[-1]
        rest = chars - last[0]
        items[-2:] = [(chars, low, low, False), (rest, 0, c.MAXREPEAT, False), last]
    if any(lazy for *_, lazy in items) or not items[-1][1] == items[-1][2]:
        return None
    for (chars, low, high, _), (following, need, _, _) in zip(items, items[1:], strict=False):
        if low != high and (need < 1 or chars & following):
            return None
    text = ""
    for chars, low, high, _ in items:
        if high == 0 or not chars and low == 0:
            continue
        quantifier = ("" if low == high == 1 else f"{{{low}}}" if low == high
                      else "*" if (low, high) == (0, c.MAXREPEAT)
                      else "+" if (low, high) == (1, c.MAXREPEAT)
                      else f"{{{low},}}" if high is c.MAXREPEAT else f"{{{low},{high}}}")
        text += _char_class(chars) + quantifier
    first = set()
    for chars, low, _, _ in items:
        first |= chars
        if low:
            break
    return text, frozenset(first)


def _one_way_tokens(joining):
    """A regex whose one way to match is a token of the text once the masks ``joining``
    (a pass's masks that may join tokens) replaced their matches, or ``None``.

    Each mask must match one way (:func:`_one_way`) and begin with characters no
    other begins with, nor whitespace: a token is then a run of those masks'
    matches and of characters none of them begins with. Where a mask cannot
    match at its first character the regex fails: it never counts too many.
    """
    forms = [_one_way(pattern) for pattern in joining]
    if not forms or None in forms:
        return None
    firsts = [first for _, first in forms]
    begin = frozenset().union(*firsts)
    if begin & _SPACE_CODES or sum(map(len, firsts)) != len(begin):
        return None
    plain = _char_class(_RUST_ASCII - begin - _SPACE_CODES)
    return "(?:" + "|".join(regex for regex, _ in forms) + f"|{plain})+"
