"""Argument checks the teaching modules share: bad input raises an error that names the argument.

    from bwkit.kit.args import check_number, check_flag, check_flag_fields, as_names
    check_number("TILE_N", 128)                 # a positive int
    check_number("elem_bytes", 0.5, integer=False)
    check_flag("Layout.eplb", True)             # True or False, not a truthy string
    as_names("gpus", "B200") == ("B200",)       # one name or several, never a string's characters
    as_items("Ns", 17920, isinstance(17920, int)) == [17920]     # one item or a sequence of them
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import fields

__all__ = ["check_number", "check_flag", "check_flag_fields", "as_names", "as_items"]


def check_number(name: str, v, *, integer: bool = True, zero_ok: bool = False) -> None:
    """Raise ValueError naming `name` unless `v` is a positive int (`zero_ok`: an int >= 0; `integer=False`: a
    positive finite real number, or one >= 0 with `zero_ok`). bool is refused (True is not a size), and so are
    NaN and infinity (no size, time or rate is infinite here); a number typed as a string is told so."""
    kind = numbers.Integral if integer else numbers.Real
    ok = (not isinstance(v, bool) and isinstance(v, kind) and math.isfinite(v)
          and (v >= 0 if zero_ok else v > 0))
    if not ok:
        what = "an int >= 0" if zero_ok and integer else "a number >= 0" if zero_ok else \
            "a positive int" if integer else "a positive number"
        extra = " (a number typed as text: drop the quotes)" if isinstance(v, str) else \
            " (a finite one: not infinity or NaN)" if isinstance(v, numbers.Real) and not math.isfinite(v) else \
            f" (a float: pass {int(v)})" if integer and isinstance(v, float) and v.is_integer() and v > 0 else ""
        raise ValueError(f"{name} must be {what}, got {v!r}{extra}")


def check_flag(name: str, v) -> None:
    """Raise ValueError naming `name` unless `v` is True or False ('no', 0 or None would read as a flag)."""
    if not isinstance(v, bool):
        raise ValueError(f"{name} must be True or False, got {v!r}")


def check_flag_fields(obj) -> None:
    """`check_flag` on every field of the dataclass instance `obj` annotated `bool` (for `__post_init__`)."""
    for f in fields(obj):
        if f.type in ("bool", bool):
            check_flag(f"{type(obj).__name__}.{f.name}", getattr(obj, f.name))


def as_names(name: str, v) -> tuple:
    """`v` as a tuple: one str becomes a 1-tuple (not its characters); an iterable stays its items."""
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, Iterable):
        raise TypeError(f"{name} must be a name or a sequence of names, got {type(v).__name__}")
    return tuple(v)


def as_items(name: str, v, one: bool, what: str = "one") -> list:
    """`v` as a list: a single item (`one`: the caller's test that `v` is one, e.g. one Tile or one int) is a list
    of one, a sequence its items; a str or anything else not iterable raises TypeError naming `name` and `what`
    one item is ("a Layout")."""
    if one:
        return [v]
    if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
        raise TypeError(f"{name} must be {what} or a sequence of them, got {type(v).__name__} {v!r:.60}")
    return list(v)
