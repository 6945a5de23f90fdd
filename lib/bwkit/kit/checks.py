"""Comparing an answer with a reference, and the one verdict a check prints: ``PASS ✅ name`` or ``FAIL ❌ name``.

`compare(out, ref, atol=..., rtol=...)` is the primitive every exercise check uses (through
`bwkit.kit.exercises`): it accepts an answer in any reasonable form (a torch tensor, a NumPy array or scalar, a
list, a tuple, a dict, a Python number or string) and, when it differs, says how in a few lines: shapes and dtypes,
max abs/rel error against the tolerance, how many elements are wrong and the first one, NaNs, or the type it got
and what to convert. An answer in a narrower float dtype than the reference's gets a tolerance that fits its own
rounding, and no more (`_effective_tol`); a failing float16/bfloat16 answer is told so (`narrow_float`).

A failing check raises `CheckFailure`. In Jupyter it renders as its diagnosis alone (no traceback into this
module: IPython calls ``_render_traceback_``), so the learner reads the verdict once; nbval and the grader see an
error. `check`, `check_choice` and `check_true` are thin wrappers for checks that are not exercises (e.g.
`bwkit.layouts.check_layout`). Taught in lab 00 (every exercise ends with a check).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["check", "check_choice", "check_true", "compare", "CheckFailure", "NotAnswered", "passed", "failed",
           "PASS", "FAIL", "describe_value", "narrow_float", "as_int", "not_an_int",
           "compare_not_narrow", "compare_exact_dtype"]

PASS = "PASS ✅"
FAIL = "FAIL ❌"


class CheckFailure(AssertionError):
    """Raised by a failing check; its message is the whole diagnosis (rendered without a traceback)."""

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return str(self).split("\n")


class NotAnswered(CheckFailure, NotImplementedError):
    """The exercise still holds its stub (or the answer is not defined): a failure that is not a wrong answer."""


def passed(name: str, note: str = "") -> None:
    """Print the one-line verdict of a passing check."""
    print(f"{PASS} {name}" + (f" ({note})" if note else ""))


def failed(name: str, lines: Sequence[str], hint: str | None = None, *, cls: type[CheckFailure] = CheckFailure):
    """Raise the verdict of a failing check: ``FAIL ❌ name`` then the indented diagnosis lines and the hint."""
    msg = [f"{FAIL} {name}"] + [f"   {ln}" for ln in lines if ln]
    if hint:
        msg.append(f"   {hint}")
    raise cls("\n".join(msg))


def _fmt(v: float) -> str:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    if isinstance(v, float) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


def _fmt_pair(a: float, b: float) -> tuple[str, str]:
    """`_fmt` of both, with more digits where six would print two different numbers the same (float32 noise)."""
    sa, sb = _fmt(a), _fmt(b)
    if sa == sb and a != b and math.isfinite(a) and math.isfinite(b):
        for digits in (9, 12, 17):
            sa, sb = f"{a:.{digits}g}", f"{b:.{digits}g}"
            if sa != sb:
                break
    return sa, sb


def _opaque_type(x: Any) -> str | None:
    """The type name an answer the codec could not carry had (a `codec.Opaque`), else None."""
    if type(x).__name__ == "Opaque" and type(x).__module__.startswith("bwkit.") and isinstance(
            getattr(x, "type", None), str) and isinstance(getattr(x, "repr", None), str):
        return x.type
    return None


_CALLABLE_TYPES = ("function", "builtin_function_or_method", "method", "partial", "type", "cython_function_or_method")


def _function_name(x: Any) -> str | None:
    """The name of a function answer (a callable, or a carried `Opaque` of a function); None for anything else."""
    typ = _opaque_type(x)
    if typ is not None:
        if typ not in _CALLABLE_TYPES and typ not in ("JITFunction", "Autotuner"):
            return None
        import re

        m = re.match(r"<(?:function|built-in function|bound method|class) (\S+)", x.repr)
        if m is None:
            return typ
        name = m.group(1) if m.group(1).startswith("<") else m.group(1).rstrip(">")
        return name.rsplit(".", 1)[-1]                 # 'f.<locals>.<lambda>' -> '<lambda>'
    if callable(x) and not hasattr(x, "shape"):
        return getattr(x, "__name__", type(x).__name__)
    return None


def describe_value(x: Any, width: int = 60) -> str:
    """A short description of any value for a diagnosis: 'a str ('5')', 'a float32 tensor [4, 4]', ..."""
    typ = _opaque_type(x)
    if typ is not None:      # an object the codec carried by its type and repr only
        text = x.repr if len(x.repr) <= width else x.repr[: width - 3] + "..."
        article = "an" if typ[:1].lower() in "aeiou" else "a"
        return f"{article} {typ} ({text})"
    name = type(x).__name__
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is not None and dtype is not None:
        return f"a {str(dtype).replace('torch.', '')} {name} of shape {list(shape)}"
    if isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > 64:
        return f"an int of about {round(x.bit_length() * math.log10(2))} digits"
    try:
        text = repr(x)
    except Exception:  # noqa: BLE001 - an answer whose repr fails is still described
        text = "its repr fails"
    if len(text) > width:
        text = text[: width - 3] + "..."
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name} ({text})"


_FLOAT_EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23}   # one ulp at 1.0
_HALF_TINY = {"float16": 2.0**-24, "bfloat16": 2.0**-133}   # their smallest subnormal: rounding near 0 is absolute
_HALF_BITS = {"float16": 11, "bfloat16": 8}                  # significant bits they keep


def _text_item(x: Any, _depth: int = 0) -> tuple[list[int], Any] | None:
    """(index path, item) of the first str/bytes inside a list/tuple answer (at any depth), else None."""
    if isinstance(x, (list, tuple)) and _depth < 64:
        for i, v in enumerate(x):
            if isinstance(v, (str, bytes)):
                return [i], v
            found = _text_item(v, _depth + 1)
            if found is not None:
                return [i] + found[0], found[1]
    return None


def _to_array(x: Any):
    """(float64/complex numpy array or None, dtype name, shape) for tensors, arrays, numbers and sequences."""
    import numpy as np

    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        dtype = str(t.dtype).replace("torch.", "")
        if t.is_complex():
            return None, dtype, tuple(t.shape)
        try:
            arr = t.to(torch.float64).numpy()
        except (RuntimeError, TypeError):
            return None, dtype, tuple(t.shape)
        return arr, dtype, tuple(t.shape)
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "biuf":
            return x.astype(np.float64), str(x.dtype), x.shape
        return None, str(x.dtype), x.shape
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return np.asarray(float(x)), str(x.dtype), ()
    if isinstance(x, bool):
        return np.asarray(float(x)), "bool", ()
    if isinstance(x, (int, float)):
        return np.asarray(float(x)), type(x).__name__, ()
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        if _text_item(x) is not None:      # numbers written as text are not numbers (NumPy would parse them)
            return None, type(x).__name__, ()
        try:
            arr = np.asarray([_scalar(v) for v in x] if all(_is_scalar(v) for v in x) else x, dtype=np.float64)
            return arr, "list", arr.shape
        except (TypeError, ValueError):
            return None, type(x).__name__, ()       # (an OverflowError goes up: `compare` names it)
    return None, type(x).__name__, ()


def _shape_mismatch(out: Any, bshape: tuple, bdt: str) -> list[str] | None:
    """The shape lines of `compare` for a tensor/array `out` whose shape is not the reference's, read without
    converting `out` (None when the shapes agree, or `out` is not a tensor/array)."""
    shape = getattr(out, "shape", None)
    if not isinstance(shape, tuple) or not hasattr(out, "dtype"):       # torch.Size is a tuple
        return None
    try:
        ashape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        return None
    bshape = tuple(bshape)
    if ashape == bshape or (math.prod(ashape) == 1 and math.prod(bshape) == 1):
        return None
    adt = str(out.dtype).replace("torch.", "")
    lines = [f"got shape {list(ashape)} ({adt}), expected shape {list(bshape)} ({bdt})"]
    if len(ashape) == 2 and ashape == bshape[::-1]:
        lines.append("the shape is the transpose of the expected one")
    return lines


def _is_scalar(v: Any) -> bool:
    import numpy as np

    return isinstance(v, (int, float, bool, np.generic)) or (getattr(v, "shape", None) == ())


def _scalar(v: Any) -> float:
    return float(v.item()) if hasattr(v, "item") else float(v)


def _ref_eps(bdt: str) -> float | None:
    """One ulp of the reference's dtype (0 for float64 and Python numbers; None for what is not a float)."""
    return _FLOAT_EPS.get(bdt, 0.0 if bdt in ("float64", "float", "list") else None)


def _effective_tol(adt: str, bdt: str, atol: float, rtol: float, scale: float) -> tuple[float, float]:
    """Widen the tolerance to the answer's precision when it is narrower than the reference's (`scale`: the
    largest finite |reference| element).

    A float32 answer against a float64 reference gets 8 float32 ulps, absolute against the largest element too
    (~1e-6 of it): a float32 sum whose terms cancel passes (its error follows the terms, not the result), and no
    mistake hides in 1e-6. A float16/bfloat16 answer gets only its own rounding: one ulp of each element's own
    magnitude (rtol = eps), so the reference rounded to that dtype passes and nothing more. (8 ulps of bfloat16
    would be 6 %, and an atol scaled by the largest element lets every small element be almost anything: a D
    5 % too large passed 01.4 as bfloat16, and 6.2 passed for 6.0 as a bfloat16 scalar.)
    """
    eps_a, eps_b = _FLOAT_EPS.get(adt), _ref_eps(bdt)
    if eps_a is None or eps_b is None or eps_a <= eps_b or (atol == 0 and rtol == 0):
        return atol, rtol  # exact checks stay exact: rounding there is the point of the exercise
    if adt in _HALF_TINY:
        return max(atol, _HALF_TINY[adt]), max(rtol, eps_a)
    return max(atol, 8 * eps_a * scale), max(rtol, 8 * eps_a)


def narrow_float(x: Any) -> str | None:
    """'float16' / 'bfloat16' when `x` is a tensor, array or NumPy scalar of that half-precision dtype, else None
    (for a `Mistake(when=...)` that names a half-precision answer where the prompt asks for more)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return None
    name = str(dtype).replace("torch.", "")
    return name if name in _HALF_TINY else None


def compare_not_narrow(*, atol: float, rtol: float, wanted: str = "",
                       keep_dtype: bool = False) -> Callable[[Any, Any], tuple[bool, list[str]]]:
    """A `Part.compare`: `compare`, and a float16/bfloat16 answer fails even when it is right to its own rounding,
    for an exercise whose prompt asks for more (`wanted`: "float64"; "" = the reference's own dtype).

    `keep_dtype=True` is for a reference returned in its inputs' dtype (computed wider, then rounded): a float32
    reference is met to float32 precision (8 ulps), and a float32 answer to a float64 reference fails even when
    it is right to float32 precision (the prompt says: return it in the inputs' dtype)."""
    def cmp(got: Any, want: Any) -> tuple[bool, list[str]]:
        a_tol, r_tol = atol, rtol
        want_dt = str(getattr(want, "dtype", "")).replace("torch.", "")
        if keep_dtype and want_dt == "float32":
            import numpy as np

            arr = _to_array(want)[0]
            finite = np.abs(arr[np.isfinite(arr)]) if arr is not None else np.zeros(0)
            scale = float(finite.max()) if finite.size else 1.0
            a_tol, r_tol = max(atol, 8 * _FLOAT_EPS["float32"] * scale), max(rtol, 8 * _FLOAT_EPS["float32"])
        ok, lines = compare(got, want, atol=a_tol, rtol=r_tol)
        got_dt = str(getattr(got, "dtype", "")).replace("torch.", "")
        if ok and keep_dtype and got_dt == "float32" and want_dt == "float64":
            return False, ["your answer is float32, expected float64 (the inputs' dtype): compute and return it "
                           "in float64, without a .float() on the way"]
        narrow = narrow_float(got)
        if not ok or narrow is None or narrow_float(want) is not None:
            return ok, lines
        dtype = wanted or str(getattr(want, "dtype", "float64")).replace("torch.", "")
        return False, [f"your answer is {narrow} ({_HALF_BITS[narrow]} significant bits), expected {dtype}: "
                       f"compute and return it in {dtype}, without the cast to {narrow}"]
    return cmp


def compare_exact_dtype(*, atol: float = 0.0, rtol: float = 0.0,
                        why: str = "") -> Callable[[Any, Any], tuple[bool, list[str]]]:
    """A `Part.compare`: `compare`, and a tensor or array answer in another dtype than the reference's fails even
    with the right values, for an exercise whose prompt names the dtype (`why`: " (one byte per pair)")."""
    def cmp(got: Any, want: Any) -> tuple[bool, list[str]]:
        ok, lines = compare(got, want, atol=atol, rtol=rtol)
        got_dt, want_dt = getattr(got, "dtype", None), getattr(want, "dtype", None)
        if not ok or got_dt is None or want_dt is None:
            return ok, lines
        g, w = str(got_dt).replace("torch.", ""), str(want_dt).replace("torch.", "")
        if g == w:
            return True, []
        return False, [f"the values are right but your answer is {g}, expected {w}{why}: return a {w} tensor "
                       f"(.to(torch.{w}))"]
    return cmp


def _narrow_note(adt: str, bdt: str) -> str | None:
    """The line a failing half-precision answer gets: its dtype, not only its numbers, may be the trouble."""
    eps_b = _ref_eps(bdt)
    if adt not in _HALF_TINY or eps_b is None or eps_b >= _FLOAT_EPS[adt]:
        return None
    want = {"float": "a Python float", "list": "float64"}.get(bdt, bdt)
    return (f"your answer is {adt} ({_HALF_BITS[adt]} significant bits, checked to its own rounding "
            f"only), the reference {'float64' if bdt in ('float', 'list') else bdt}: compute and return {want}")


def as_int(v: Any) -> int | None:
    """`v` as an int when it is an integral number (an int, a NumPy integer, a 0-d integer tensor, or a float
    with no fraction: 2.0), else None (a bool, a str, None, 2.5, a container, ...)."""
    import operator

    if isinstance(v, (bool, str, bytes)) or type(v).__name__ == "bool_":
        return None
    shape = getattr(v, "shape", None)
    if shape is not None and tuple(shape) == () and hasattr(v, "item"):
        if "bool" in str(getattr(v, "dtype", "")):
            return None
        v = v.item()
    if isinstance(v, bool):
        return None
    try:
        return operator.index(v)
    except TypeError:
        pass
    if isinstance(v, float) or type(v).__module__ == "numpy":
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        return int(f) if math.isfinite(f) and f.is_integer() else None
    return None


def not_an_int(v: Any) -> str:
    """Why `v` is not an int, for a diagnosis: 'None: is a `return` missing?', '2.667', "a str ('5')"."""
    if v is None:
        return "None: is a `return` missing?"
    if isinstance(v, float) or (type(v).__module__ == "numpy" and getattr(v, "shape", None) == ()):
        try:
            return f"{float(v):.4g} (use // for integer division)"
        except (TypeError, ValueError):
            pass
    return describe_value(v, 40)


def _is_text(x: Any) -> bool:
    return isinstance(x, str)


def compare(out: Any, ref: Any, *, atol: float = 0.0, rtol: float = 1e-6) -> tuple[bool, list[str]]:
    """Return (ok, lines saying how `out` differs from `ref`); never raises on a badly typed `out`."""
    import numpy as np

    fn_name = _function_name(out)
    if fn_name is not None and not callable(ref):
        return False, [f"got a function ({fn_name}), expected a value: "
                       "call it, or assign its result rather than the function"]
    if isinstance(ref, Mapping):
        return _compare_mapping(out, ref, atol, rtol)
    if _is_text(ref):
        if not isinstance(out, str):
            return False, [f"got {describe_value(out)}, expected the text {ref!r}"]
        ok = out.strip().lower() == ref.strip().lower()
        return ok, [] if ok else [f"got {out!r}, expected {ref!r}"]
    if isinstance(ref, (list, tuple)) and any(isinstance(r, (str, Mapping, list, tuple)) for r in ref):
        return _compare_items(out, ref, atol, rtol)
    b, bdt, bshape = _to_array(ref)
    if b is None:  # a reference that is not numeric: exact equality
        try:
            ok = bool(out == ref)
        except Exception:  # noqa: BLE001 - an answer whose == raises is simply not equal
            ok = False
        return ok, [] if ok else [f"got {describe_value(out)}, expected {describe_value(ref)}"]
    if out is None:
        return False, ["got None: is a `return` missing (or the variable not assigned)?"]
    if isinstance(out, (str, bytes)):
        if isinstance(ref, (bool, np.bool_)):
            return False, [f"got the text {out!r}, expected {bool(ref)!r} or {not ref!r} (a bool): drop the quotes"]
        return False, [f"got a {type(out).__name__} ({out!r}), expected a number{'' if not bshape else ' array'}: "
                       "convert it (float(...), int(...)) or drop the quotes"]
    text = _text_item(out)
    if text is not None:
        where = "".join(f"[{i}]" for i in text[0])
        shown = repr(text[1]) if len(repr(text[1])) <= 40 else repr(text[1])[:37] + "..."
        return False, [f"got a {type(text[1]).__name__} ({shown}) as item {where} of your {type(out).__name__}, "
                       "expected numbers: convert it (float(...), int(...)) or drop the quotes"]
    # a Python 1-tuple or 1-list for one number is nearly always a slip (`return x,`); a size-1 tensor or array
    # (a reduction's [1]-shaped result) stays accepted below, as the value it holds
    if isinstance(out, (list, tuple)) and len(out) == 1 and isinstance(ref, (int, float, np.number, np.bool_)):
        kind = "tuple" if isinstance(out, tuple) else "list"
        return False, [f"got a 1-element {kind} ({describe_value(out)}), expected one number: "
                       + ("a trailing comma after the value?" if kind == "tuple" else "drop the brackets")]
    early = _shape_mismatch(out, bshape, bdt)
    if early is not None:       # before any conversion: a huge answer of the wrong shape is never copied
        return False, early
    try:
        a, adt, ashape = _to_array(out)
    except OverflowError:        # an int past float's range (~1.8e308): a power or factorial that ran away
        what = f"{describe_value(out)}, too large" if isinstance(out, int) else \
            f"a {type(out).__name__} holding a number too large"
        return False, [f"got {what} for a float (over 1.8e308): did a power or a product run away where a ratio or "
                       "a probability was meant?"]
    if a is None:
        want = "a number" if not bshape else f"a tensor/array/list of shape {list(bshape)}"
        return False, [f"got {describe_value(out)}, expected {want}"]
    if tuple(ashape) != tuple(bshape):
        if a.size == 1 and b.size == 1:
            a, b = a.reshape(()), b.reshape(())
        else:
            lines = [f"got shape {list(ashape)} ({adt}), expected shape {list(bshape)} ({bdt})"]
            if len(ashape) == 2 and tuple(ashape) == tuple(bshape)[::-1]:
                lines.append("the shape is the transpose of the expected one")
            return False, lines
    finite_b = np.isfinite(b)
    scale = float(np.abs(b[finite_b]).max()) if finite_b.any() else 1.0
    atol, rtol = _effective_tol(adt, bdt, atol, rtol, scale)
    nan_out, nan_ref = np.isnan(a), np.isnan(b)
    close = np.isclose(a, b, atol=atol, rtol=rtol, equal_nan=True)
    if close.all():
        return True, []
    wrong = ~close
    tol = f"atol {atol:g}, rtol {rtol:g}"
    note = _narrow_note(adt, bdt)
    if a.ndim == 0:
        sa, sb = _fmt_pair(float(a), float(b))
        return False, [f"got {sa}, expected {sb} ({tol})"] + ([note] if note else [])
    both = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(a - b)
    lines = [f"{int(wrong.sum())} of {a.size} elements wrong ({tol}); shape {list(ashape)}, dtype {adt} "
             f"(reference {bdt})"]
    if both.any():
        max_abs = float(diff[both].max())
        nonzero = both & (b != 0)
        rel = f"max rel error {_fmt(float((diff[nonzero] / np.abs(b[nonzero])).max()))}" if nonzero.any() else \
            "rel error undefined (the reference is 0 there)"
        lines.append(f"max abs error {_fmt(max_abs)}, {rel}")
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    sa, sb = _fmt_pair(float(a[first]), float(b[first]))
    lines.append(f"first wrong element at {list(first)}: got {sa}, expected {sb}")
    if nan_out.any() and not nan_ref.any():
        lines.append(f"your answer has {int(nan_out.sum())} NaN(s) where the reference has none")
    if note:
        lines.append(note)
    return False, lines


def _compare_mapping(out: Any, ref: Mapping, atol: float, rtol: float) -> tuple[bool, list[str]]:
    if not isinstance(out, Mapping):
        return False, [f"got {describe_value(out)}, expected a dict with keys {sorted(map(str, ref))}"]
    missing = [k for k in ref if k not in out]
    extra = [k for k in out if k not in ref]
    if missing or extra:
        return False, [f"keys differ: missing {missing}" + (f", unexpected {extra}" if extra else "")]
    lines = []
    for k in ref:
        ok, sub = compare(out[k], ref[k], atol=atol, rtol=rtol)
        if not ok:
            lines.append(f"[{k!r}] " + "; ".join(sub))
    return not lines, lines


_MAX_ITEMS_SHOWN = 3   # a failing check is short: the first wrong items, then how many there are


def _compare_items(out: Any, ref: Sequence, atol: float, rtol: float) -> tuple[bool, list[str]]:
    if not isinstance(out, (list, tuple)) or len(out) != len(ref):
        return False, [f"got {describe_value(out)}, expected {len(ref)} items like {describe_value(ref)}"]
    bad = []
    for i, (o, r) in enumerate(zip(out, ref, strict=True)):
        ok, sub = compare(o, r, atol=atol, rtol=rtol)
        if not ok:
            bad.append((i, o, r, sub))
    lines = []
    for i, o, r, sub in bad[:_MAX_ITEMS_SHOWN]:
        short = len(repr(o)) <= 40 and len(repr(r)) <= 40 and not hasattr(o, "shape") and _opaque_type(o) is None
        lines.append(f"item {i}: got {o!r}, expected {r!r}" if short else f"item {i}: " + "; ".join(sub))
    if len(bad) > _MAX_ITEMS_SHOWN:
        lines.append(f"{len(bad)} of {len(ref)} items wrong (the first {_MAX_ITEMS_SHOWN} shown)")
    return not lines, lines


def check(out: Any, ref: Any, *, name: str, atol: float = 0.0, rtol: float = 1e-6,
          mistakes: Mapping[str, Any] | None = None, hint: str | None = None) -> None:
    """Compare `out` with `ref`; print ``PASS ✅ name`` or raise `CheckFailure` with the diagnosis.

    `mistakes` maps a diagnosis to the value a classic wrong answer produces (or a zero-argument callable returning
    it; for a scalar `ref` a list means any of several values): the first one `out` matches is named. `hint` is
    shown when none matches.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("check(..., name=...) needs a non-empty exercise name")
    if atol < 0 or rtol < 0:
        raise ValueError(f"check: tolerances must be >= 0, got atol={atol}, rtol={rtol}")
    ok, lines = compare(out, ref, atol=atol, rtol=rtol)
    if ok:
        passed(name)
        return
    scalar_ref = isinstance(ref, (int, float)) and not isinstance(ref, bool)
    for diagnosis, wrong in (mistakes or {}).items():
        try:
            wrong_value = wrong() if isinstance(wrong, Callable) else wrong
        except Exception:  # noqa: BLE001 - a mistake model that cannot be built is simply not this mistake
            continue
        alternatives = wrong_value if scalar_ref and isinstance(wrong_value, (list, tuple)) else [wrong_value]
        for alt in alternatives:
            try:
                matched, _ = compare(out, alt, atol=atol, rtol=rtol)
            except Exception:  # noqa: BLE001
                matched = False
            if matched:
                failed(name, lines, f"Likely mistake: {diagnosis}")
    failed(name, lines, f"Hint: {hint}" if hint else None)


def check_choice(answer: Any, expected: Any, *, name: str, options: Sequence[Any] | None = None,
                 explanations: Mapping[Any, str] | None = None) -> None:
    """Check a multiple-choice answer (a string or number); `explanations` maps each wrong option to why."""
    def norm(v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    if isinstance(expected, str) and not isinstance(answer, str):
        failed(name, [f"got {describe_value(answer)}, expected one of the options {list(options or [expected])} "
                      "as a string"])
    if options is not None and norm(answer) not in [norm(o) for o in options]:
        failed(name, [f"{answer!r} is not one of the options {list(options)}"])
    if norm(answer) == norm(expected):
        passed(name)
        return
    why = next((text for opt, text in (explanations or {}).items() if norm(opt) == norm(answer)), None)
    failed(name, [f"you chose {answer!r}"], f"Why not: {why}" if why else None)


def check_true(condition: bool, *, name: str, diagnosis: str) -> None:
    """Pass when `condition` holds; otherwise fail with `diagnosis`."""
    if bool(condition):
        passed(name)
        return
    failed(name, [diagnosis])
