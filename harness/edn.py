"""EDN, the subset Jepsen histories use: read it fast, write it so Knossos can read it.

Reading (:func:`parse`) turns EDN into plain Python data, the same data our JSON
Lines files hold: keywords and symbols become strings without the colon
(``:read`` -> ``"read"``, ``:foo/bar`` -> ``"foo/bar"``), vectors and lists
become ``list``, sets ``frozenset``, maps ``dict``, ``nil`` ``None``. Tagged
literals (``#inst "..."``) keep their value and lose the tag; ``#_`` discards
the next form; ``;`` comments and commas are whitespace.

Each top-level form comes back as a :class:`Form` that knows its kind and its
1-based line, and, when it is a vector or list, the line of each element: the
history loader reports errors by line whichever layout a file uses.

Why a hand parser: ``edn_format`` (a PLY grammar) reads about 10k op maps a
second; this one tokenises with one regular expression and reads a 100k-op
history in about a second. Errors are :class:`EDNError` with the line.

Writing (:func:`dumps`) is the inverse for data: strings stay strings; a
:class:`Keyword` is written as ``:name``. :mod:`harness.formats` decides which
fields of an op are keywords.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Literal, NoReturn

from harness.input_limits import MAX_DEPTH, MAX_INT_DIGITS, MAX_OP_BYTES, too_deep, too_large

__all__ = ["EDNError", "FlatMaps", "Form", "Keyword", "dumps", "parse", "loads"]


class EDNError(ValueError):
    """Text that is not EDN; ``line`` is 1-based."""

    def __init__(self, message: str, *, line: int):
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}")


class Keyword(str):
    """A string that :func:`dumps` writes as an EDN keyword (``:name``)."""

    __slots__ = ()


FormKind = Literal["map", "vector", "list", "set", "atom"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Form:
    """One top-level form: its converted ``value``, ``kind`` and 1-based ``line``.

    ``element_lines`` holds the line of each element for a vector or list
    (empty otherwise).
    """

    value: Any
    start_line = 0
    kind: FormKind
    line: int
    element_lines: tuple[int, ...] = ()


_TOKEN = re.compile(r"""
    (?:[\s,]*)           # whitespace rides along with the token that follows
    (?:(?P<comment>;[^\n]*)
  | (?P<open>[\[({]|\#\{)
  | (?P<close>[\])}])
  | (?P<str>"[^"\\]*+(?:\\.[^"\\]*+)*+")
  | (?P<disc>\#_)
  | (?P<tag>\#[A-Za-z][^\s,\[\](){}";]*)
  | (?P<char>\\(?:newline|space|tab|return|formfeed|backspace|u[0-9A-Fa-f]{4}|[^\s,]))
  | (?P<atom>[^\s,\[\](){}";\\\#][^\s,\[\](){}";]*)
  | (?P<end>\Z))
""", re.X | re.S)

_INT = re.compile(r"[+-]?\d+N?\Z")
_FLOAT = re.compile(r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?M?\Z")
_CLOSER = {"[": "]", "(": ")", "{": "}", "#{": "}"}
_KIND: dict[str, FormKind] = {"[": "vector", "(": "list", "{": "map", "#{": "set"}
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r", "formfeed": "\f", "backspace": "\b"}
_ESCAPES = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.S)
_ESCAPE_CHARS = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "b": "\b", "f": "\f"}


_SURROGATE = re.compile("[\ud800-\udfff]")


def _unescape(s: str, line: int) -> str:
    """A string literal's body with its escapes read; ``\\uD83D\\uDE00`` pairs become one character.

    A lone surrogate is not text (no UTF-8 file, no report can hold it): an error.
    """
    s = _ESCAPES.sub(_unescape_one, s)
    if _SURROGATE.search(s):
        try:
            s = s.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise EDNError("a string holds a lone surrogate (\\uD800-\\uDFFF), which is not text",
                           line=line) from None
    return s


def _unescape_one(m: re.Match[str]) -> str:
    e = m.group(1)
    if e[0] == "u" and len(e) == 5:
        return chr(int(e[1:], 16))
    return _ESCAPE_CHARS.get(e, e)


def _atom(tok: str, line: int) -> Any:
    c = tok[0]
    if c == ":":
        if len(tok) == 1:
            raise EDNError("a lone ':' is not a keyword", line=line)
        return tok[2:] if tok[1] == ":" else tok[1:]
    if tok == "nil":
        return None
    if tok == "true":
        return True
    if tok == "false":
        return False
    if c.isdigit() or (c in "+-" and len(tok) > 1 and tok[1].isdigit()):
        if len(tok) > MAX_INT_DIGITS + 2 and sum(ch.isdigit() for ch in tok) > MAX_INT_DIGITS:
            raise EDNError(f"a number has more than {MAX_INT_DIGITS} digits", line=line)
        if _INT.match(tok):
            return int(tok.rstrip("N"))
        if _FLOAT.match(tok):
            return float(tok.rstrip("M"))
        raise EDNError(f"{tok!r} is not a number", line=line)
    return tok  # a symbol


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted(((_hashable(k), _hashable(x)) for k, x in v.items()), key=repr))
    return v


def _unreadable(text: str, pos: int, line_at: Callable[[int], int]) -> NoReturn:
    while pos < len(text) and text[pos] in " \t\r\n,":
        pos += 1
    if text.startswith('"', pos):
        raise EDNError("string is not terminated", line=line_at(pos))
    raise EDNError(f"cannot read {text[pos:pos + 20]!r}", line=line_at(pos))


class _Frame:
    __slots__ = ("opener", "items", "line", "starts", "discard")

    def __init__(self, opener: str, line: int):
        self.opener = opener
        self.items: list[Any] = []
        self.line = line
        self.starts: list[int] = []  # element lines, kept for top-level frames only
        self.discard = 0


# The fast path: a file of flat maps, one per line (Porcupine's layout and ours), whose
# values are atoms, strings or vectors of atoms and strings. One regular-expression
# match per line instead of one per token; anything else goes to the general reader.
# Every quantifier is possessive: tokens end only at a delimiter, so the longest match is
# the only reading (as in EDN's own reader), and a line that is not one flat map fails in
# linear time instead of trying every way to split its atoms (a mutated line took minutes).
_A = r"""[^\s,\[\](){}";\\#][^\s,\[\](){}";]*+"""
_S = r'''"[^"\\]*+(?:\\.[^"\\]*+)*+"'''
_V = rf"""(?:{_A}|{_S}|\[[\s,]*+(?:(?:{_A}|{_S})[\s,]*+)*+\])"""
_FLAT_LINE = re.compile(rf"""[\s,]*+\{{[\s,]*+(?::{_A}[\s,]++{_V}[\s,]*+)*+\}}[\s,]*+""")
_FLAT_PAIR = re.compile(rf"""(:{_A})[\s,]++(?:({_A})|({_S})|\[((?:[\s,]*+(?:{_A}|{_S}))*+)[\s,]*+\])""")
_FLAT_ITEM = re.compile(rf"""({_A})|({_S})""")


class FlatMaps:
    """Reads flat maps, one per line, and flat values, with one memo of atoms for a whole file.

    A flat map is ``{:key value ...}`` on one line whose values are atoms,
    strings or vectors of atoms and strings: Porcupine's layout and ours.
    The memo matters: op maps repeat the same few keywords millions of times.
    """

    __slots__ = ("atoms",)

    def __init__(self) -> None:
        self.atoms: dict[str, Any] = {}

    def _scalar(self, a: str, st: str, line: int) -> Any:
        if a:
            v = self.atoms.get(a, self.atoms)
            if v is self.atoms:
                if a.isdigit() and len(a) < 19:
                    return int(a)  # indices and times: unique, not worth remembering
                v = self.atoms[a] = _atom(a, line)
            return v
        if len(st) > MAX_OP_BYTES:
            raise EDNError(too_large(len(st), "a string"), line=line)
        st = st[1:-1]
        return _unescape(st, line) if "\\" in st else st

    def value(self, text: str, line: int) -> Any:
        """A flat value's text (an atom, a string, or a vector of those) as data."""
        c = text[0]
        if c == "[":
            scalar = self._scalar
            return [scalar(a, st, line) for a, st in _FLAT_ITEM.findall(text, 1, len(text) - 1)]
        if c == '"':
            return self._scalar("", text, line)
        return self._scalar(text, "", line)

    def map(self, line: str, n: int) -> dict[Any, Any] | None:
        """The map on ``line`` (numbered ``n``), or None when it is not one flat map."""
        if _FLAT_LINE.fullmatch(line) is None:
            return None
        scalar = self._scalar
        d: dict[Any, Any] = {}
        for k, a, st, vec in _FLAT_PAIR.findall(line):
            key = self.atoms.get(k, self.atoms)
            if key is self.atoms:
                key = scalar(k, "", n)
            if a or st:
                d[key] = scalar(a, st, n)
            else:
                d[key] = [scalar(x, y, n) for x, y in _FLAT_ITEM.findall(vec)]
        return d


def _parse_flat_lines(text: str) -> list[Form] | None:
    """Forms of a one-flat-map-per-line text, or None when the text is not one."""
    flat = FlatMaps()
    forms: list[Form] = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line or line.isspace():
            continue
        d = flat.map(line, n)
        if d is None:
            return None
        forms.append(Form(value=d, kind="map", line=n))
    return forms


def parse(text: str) -> list[Form]:
    """Read every top-level form of ``text``; raises :class:`EDNError`."""
    if text[:1] == "{":
        fast = _parse_flat_lines(text)
        if fast is not None:
            return fast
    forms: list[Form] = []
    stack: list[_Frame] = []
    top_discard = 0
    atoms: dict[str, Any] = {}  # memo: op maps repeat the same few atoms
    pos = 0
    line = 1
    line_pos = 0  # the offset up to which ``line`` is counted

    def line_at(p: int) -> int:
        nonlocal line, line_pos
        if p > line_pos:
            line += text.count("\n", line_pos, p)
            line_pos = p
        return line

    value: Any
    start_line = 0
    for m in _TOKEN.finditer(text):
        if m.start() != pos:
            _unreadable(text, pos, line_at)
        pos = m.end()
        kind = m.lastgroup
        if kind == "comment":
            continue
        if kind == "end":
            break
        start = m.start(kind)
        tok = m.group(kind)
        if kind == "atom":
            try:
                value = atoms[tok]
            except KeyError:
                value = atoms[tok] = _atom(tok, line_at(start))
            vkind: FormKind = "atom"
        elif kind == "open":
            if len(stack) > MAX_DEPTH:  # the top-level vector of ops, then a value's own nesting
                raise EDNError(too_deep(), line=line_at(start))
            stack.append(_Frame(tok, line_at(start)))
            continue
        elif kind == "close":
            if not stack:
                raise EDNError(f"unmatched {tok!r}", line=line_at(start))
            fr = stack.pop()
            if _CLOSER[fr.opener] != tok:
                raise EDNError(f"{fr.opener!r} opened on line {fr.line} is closed by {tok!r}",
                               line=line_at(start))
            if fr.discard:
                raise EDNError("'#_' discards nothing before the closing bracket", line=line_at(start))
            start_line = fr.line
            vkind = _KIND[fr.opener]
            if vkind == "map":
                it = fr.items
                if len(it) % 2:
                    raise EDNError(f"map opened on line {fr.line} has a key without a value",
                                   line=fr.line)
                value = {(k if k.__class__ is str else _hashable(k)): it[i + 1]
                         for i, k in enumerate(it) if not i % 2}
            elif vkind == "set":
                value = frozenset(_hashable(x) for x in fr.items)
            else:
                value = fr.items
                if not stack:  # a top-level collection: keep its element lines
                    elines = tuple(fr.starts)
                    if top_discard:
                        top_discard -= 1
                        continue
                    forms.append(Form(value=value, kind=vkind, line=fr.line, element_lines=elines))
                    continue
        elif kind == "str":
            if len(tok) > MAX_OP_BYTES:
                raise EDNError(too_large(len(tok), "a string"), line=line_at(start))
            s = tok[1:-1]
            value = _unescape(s, line_at(start)) if "\\" in s else s
            vkind = "atom"
        elif kind == "char":
            c = tok[1:]
            value = _CHARS.get(c, chr(int(c[1:], 16)) if len(c) == 5 and c[0] == "u" else c)
            vkind = "atom"
        elif kind == "disc":
            if stack:
                stack[-1].discard += 1
            else:
                top_discard += 1
            continue
        else:  # tag: the value that follows stands for itself
            continue
        # a complete value: add it to the enclosing frame, or emit it
        if stack:
            fr = stack[-1]
            if fr.discard:
                fr.discard -= 1
                continue
            fr.items.append(value)
            if len(stack) == 1:
                fr.starts.append(start_line if vkind != "atom" else line_at(start))
        else:
            if top_discard:
                top_discard -= 1
                continue
            forms.append(Form(value=value, kind=vkind,
                              line=start_line if vkind != "atom" else line_at(start)))
    if pos != len(text):
        _unreadable(text, pos, line_at)
    if stack:
        fr = stack[-1]
        raise EDNError(f"{fr.opener!r} opened here is never closed", line=fr.line)
    return forms


def loads(text: str) -> Any:
    """The value of a text holding exactly one form (for options such as ``--init``)."""
    forms = parse(text)
    if len(forms) != 1:
        raise EDNError(f"expected one EDN value, found {len(forms)}", line=1)
    return forms[0].value


_SAFE_SYMBOL = re.compile(r"[A-Za-z*!_?$%&=<>.+\-][A-Za-z0-9*!_?$%&=<>.+\-:#/']*\Z")


def _string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\t", "\\t").replace("\r", "\\r") + '"'


def dumps(v: Any) -> str:
    """EDN text for plain data; :class:`Keyword` values are written as keywords."""
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Keyword):
        if not _SAFE_SYMBOL.match(v):
            raise ValueError(f"{str(v)!r} cannot be written as an EDN keyword")
        return ":" + v
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"cannot write the float {v!r} as EDN")
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(dumps(x) for x in v) + "]"
    if isinstance(v, (set, frozenset)):
        return "#{" + " ".join(sorted(dumps(x) for x in v)) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{dumps(k)} {dumps(x)}" for k, x in v.items()) + "}"
    raise ValueError(f"cannot write {type(v).__name__} {v!r} as EDN")
