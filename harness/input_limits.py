"""The bounds every input reader holds: depth, size of one value, digits of one number, encoding.

A file handed to ``check``, ``convert`` or ``report`` may be anything: torn,
hostile, or simply not what its name says. Each reader (JSON Lines, EDN,
``results.json``, ``--init`` values) turns whatever it cannot use into a
:class:`~harness.history.HistoryError` naming the file and line, never a
traceback; these are the limits they share, so that what one reader accepts
the rest of the program (checkers, report, the writers, all recursive over
values) can hold without running out of stack or memory:

``MAX_DEPTH``       nesting of lists, maps and sets inside one value. Jepsen values
                    nest two or three deep (a ``txn`` is a list of ``[f k v]``);
                    Python's recursion limit is 1,000 frames, shared by the code that
                    walks values, so a hundred leaves room for all of it.
``MAX_OP_BYTES``    one op's text (a JSON line, an EDN form): 64 MiB. A 10 MB string
                    is a fair value; a gigabyte on one line is a broken file.
``MAX_INT_DIGITS``  decimal digits of one integer: Python's own bound
                    (``sys.get_int_max_str_digits()``, 4,300), past which ``int()``
                    refuses and arithmetic on the number would be quadratic.

Encoding: every reader takes UTF-8 and names the byte that is not.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO, Callable, Iterator

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "MAX_OP_BYTES", "decode_utf8", "depth_exceeds",
           "line_blocks", "too_deep", "too_large"]

MAX_DEPTH = 100
MAX_OP_BYTES = 64 * 1024 * 1024
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300

_CONTAINERS = (list, tuple, dict, set, frozenset)


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists, maps or sets more than ``limit`` deep (iterative: no recursion)."""
    if not isinstance(value, _CONTAINERS):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > limit:
            return True
        items = v.values() if isinstance(v, dict) else v
        stack.extend((x, d + 1) for x in items if isinstance(x, _CONTAINERS))
        if isinstance(v, dict):
            stack.extend((k, d + 1) for k in v if isinstance(k, _CONTAINERS))
    return False


def too_deep(what: str = "value") -> str:
    return f"{what} nests lists or maps more than {MAX_DEPTH} deep"


def too_large(nbytes: int, what: str = "one op") -> str:
    return (f"{what} is {nbytes / 2**20:.0f} MiB of text, more than the "
            f"{MAX_OP_BYTES // 2**20} MiB a single op may take")


def decode_utf8(data: bytes, first_line: int, error: Callable[[str, int], Exception]) -> str:
    """``data`` (whole lines, the first numbered ``first_line``) as text; ``error(message, line)`` if not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        raise error(f"not UTF-8 text (byte {e.start - line_start + 1} of the line is "
                    f"{data[e.start:e.start + 1]!r})", first_line + data.count(b"\n", 0, e.start)) from None


BLOCK_BYTES = 4 * 1024 * 1024


def line_blocks(fh: BinaryIO, error: Callable[[str, int], Exception]) -> Iterator[tuple[int, list[bytes], bool]]:
    """``(first line number, lines, is_tail)``: the whole lines of ``fh``, a few MiB at a time.

    The last item is the tail (``is_tail``) when the file does not end with a
    newline: for a history, the line the recorder was writing when it was
    killed, maybe torn. A line past ``MAX_OP_BYTES`` is ``error(message, line)``.
    """
    lineno = 1
    carry = b""
    while block := fh.read(BLOCK_BYTES):
        if carry:
            block = carry + block
        cut = block.rfind(b"\n")
        if cut < 0:
            carry = block
            if len(carry) > MAX_OP_BYTES:
                raise error(too_large(len(carry)), lineno)
            continue
        lines = block[:cut].split(b"\n")
        carry = block[cut + 1:]
        yield lineno, lines, False
        lineno += len(lines)
    if carry:
        yield lineno, [carry], True
