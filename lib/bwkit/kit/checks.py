"""Exercise checks: one primitive, `check`, that prints ✅ or ❌ with a diagnosis and raises on a wrong answer.

A check compares the learner's answer with a reference (a number, a tensor, an array or a string). On a wrong
answer it prints what differs (shapes, dtypes, max abs/rel error against the tolerance, how many elements are
wrong and the first one) and, when the answer matches one of the *known mistakes* passed in, the diagnosis for
that mistake — then raises `AssertionError`, so nbval and `bwkit grade` see the failure.

    check(my_ridge, 281.25, name="00.2 ridge point", rtol=1e-3,
          mistakes={"you divided bandwidth by FLOP/s (the inverse)": 1 / 281.25})

Taught in lab 00 (every exercise ends with one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["check", "check_choice", "check_true", "CheckFailure"]


class CheckFailure(AssertionError):
    """Raised by a failing check; its message is the full diagnosis."""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v:.6g}"
    return repr(v)


def _to_array(x: Any):
    """Return (numpy float64/complex array or None, dtype string, shape) for tensors, arrays and numbers."""
    import numpy as np

    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        dtype = str(t.dtype).replace("torch.", "")
        if t.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool):
            arr = t.to(torch.int64).numpy().astype(np.float64)
        elif t.is_floating_point():
            arr = t.to(torch.float64).numpy()
        else:
            try:
                arr = t.to(torch.float64).numpy()
            except (RuntimeError, TypeError):
                return None, dtype, tuple(t.shape)
        return arr, dtype, tuple(t.shape)
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "biuf":
            return x.astype(np.float64), str(x.dtype), x.shape
        return None, str(x.dtype), x.shape
    if isinstance(x, bool):
        return np.asarray(float(x)), "bool", ()
    if isinstance(x, (int, float)):
        return np.asarray(float(x)), type(x).__name__, ()
    if isinstance(x, Sequence) and not isinstance(x, str):
        try:
            arr = np.asarray(x, dtype=np.float64)
            return arr, "list", arr.shape
        except (TypeError, ValueError):
            return None, type(x).__name__, ()
    return None, type(x).__name__, ()


def _compare(out: Any, ref: Any, atol: float, rtol: float) -> tuple[bool, list[str]]:
    """Return (ok, lines describing the difference)."""
    import numpy as np

    a, adt, ashape = _to_array(out)
    b, bdt, bshape = _to_array(ref)
    if b is None:  # non-numeric reference: exact equality
        ok = out == ref
        ok = bool(ok) if not hasattr(ok, "all") else bool(ok.all())
        return ok, [] if ok else [f"got {out!r}, expected {ref!r}"]
    if a is None:
        return False, [f"got a {type(out).__name__} ({out!r:.80}), expected a number/tensor like {bdt}{list(bshape)}"]
    if ashape != bshape:
        lines = [f"shape {list(ashape)} ({adt}), expected {list(bshape)} ({bdt})"]
        if len(ashape) == 2 and tuple(ashape) == tuple(bshape)[::-1]:
            lines.append("the shape is the transpose of the expected one")
        return False, lines
    nan_out, nan_ref = np.isnan(a), np.isnan(b)
    close = np.isclose(a, b, atol=atol, rtol=rtol, equal_nan=True)
    if close.all():
        return True, []
    wrong = ~close
    n_wrong, n = int(wrong.sum()), a.size
    finite = ~(nan_out | nan_ref) & np.isfinite(a) & np.isfinite(b)
    diff = np.abs(a - b)
    lines = []
    if a.ndim == 0:
        lines.append(f"got {_fmt(float(a))}, expected {_fmt(float(b))} (atol {atol:g}, rtol {rtol:g})")
    else:
        max_abs = float(diff[finite].max()) if finite.any() else float("nan")
        rel = diff / np.maximum(np.abs(b), 1e-300)
        max_rel = float(rel[finite].max()) if finite.any() else float("nan")
        first = tuple(int(i) for i in np.argwhere(wrong)[0])
        lines.append(f"{n_wrong} of {n} elements wrong (atol {atol:g}, rtol {rtol:g}); shape {list(ashape)}, "
                     f"dtype {adt} vs reference {bdt}")
        lines.append(f"max abs error {_fmt(max_abs)}, max rel error {_fmt(max_rel)}")
        lines.append(f"first wrong element at {list(first)}: got {_fmt(float(a[first]))}, "
                     f"expected {_fmt(float(b[first]))}")
    if nan_out.any() and not nan_ref.any():
        lines.append(f"your answer has {int(nan_out.sum())} NaN(s) where the reference has none")
    return False, lines


def check(
    out: Any,
    ref: Any,
    *,
    name: str,
    atol: float = 0.0,
    rtol: float = 1e-6,
    mistakes: Mapping[str, Any] | None = None,
    hint: str | None = None,
) -> None:
    """Compare `out` with `ref`; print ✅/❌ for exercise `name`; raise `CheckFailure` when wrong.

    `atol`/`rtol` follow numpy.isclose. `mistakes` maps a diagnosis to the value a classic wrong answer produces
    (or to a zero-argument callable returning it; for a scalar `ref`, a list means any of several values); the
    first one `out` matches is printed. `hint` is printed
    when no known mistake matches.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("check(..., name=...) needs a non-empty exercise name")
    if atol < 0 or rtol < 0:
        raise ValueError(f"check: tolerances must be >= 0, got atol={atol}, rtol={rtol}")
    if out is None:
        _fail(name, ["your code returned None: is a `return` missing?"], f"Hint: {hint}" if hint else None)
    ok, lines = _compare(out, ref, atol, rtol)
    if ok:
        print(f"✅ {name}")
        return
    scalar_ref = isinstance(ref, (int, float)) and not isinstance(ref, bool)
    for diagnosis, wrong in (mistakes or {}).items():
        wrong_value = wrong() if isinstance(wrong, Callable) else wrong
        # for a scalar answer, a list of wrong values means "any of these"
        alternatives = wrong_value if scalar_ref and isinstance(wrong_value, (list, tuple)) else [wrong_value]
        for alt in alternatives:
            try:
                matched, _ = _compare(out, alt, atol, rtol)
            except Exception:  # a mistake model that cannot be compared is simply not this mistake
                matched = False
            if matched:
                _fail(name, lines, f"Likely mistake: {diagnosis}")
    _fail(name, lines, f"Hint: {hint}" if hint else None)


def _fail(name: str, lines: list[str], hint: str | None) -> None:
    msg = [f"❌ {name}"] + [f"   {ln}" for ln in lines]
    if hint:
        msg.append(f"   {hint}")
    text = "\n".join(msg)
    print(text)
    raise CheckFailure(text)


def check_choice(
    answer: Any, expected: Any, *, name: str, options: Sequence[Any] | None = None,
    explanations: Mapping[Any, str] | None = None,
) -> None:
    """Check a multiple-choice answer (a string or number); `explanations` maps each wrong option to why."""
    norm = (lambda v: v.strip().lower()) if isinstance(expected, str) else (lambda v: v)
    if options is not None and norm(answer) not in [norm(o) for o in options]:
        _fail(name, [f"{answer!r} is not one of the options {list(options)}"], None)
    if norm(answer) == norm(expected):
        print(f"✅ {name}")
        return
    why = None
    for opt, text in (explanations or {}).items():
        if norm(opt) == norm(answer):
            why = text
    _fail(name, [f"you chose {answer!r}"], f"Why not: {why}" if why else None)


def check_true(condition: bool, *, name: str, diagnosis: str) -> None:
    """Pass when `condition` holds; otherwise print ❌ with `diagnosis` and raise."""
    if bool(condition):
        print(f"✅ {name}")
        return
    _fail(name, [diagnosis], None)
