"""CuTe layouts on a CPU: evaluate them on every coordinate, draw them, and check layout exercises.

A CuTe layout is a function from coordinates to an index, given by a *shape* and a *stride* (nested int tuples):
``(4,8):(8,1)`` sends (i, j) to 8*i + j. This module gives you:

* `Layout`: a plain-Python copy of a static CuTe layout (shape, stride, an optional swizzle and offset) that you
  can call on coordinates without a GPU, a JIT or MLIR: ``Layout((4, 8), (8, 1))((1, 2)) == 10``.
* `run_cute(builder)`: runs ``builder()`` inside a host ``@cute.jit`` function (on the CPU) and turns the CuTe
  layout(s) it returns into `Layout` objects. That is how the lab uses CuTe's own algebra (``cute.coalesce``,
  ``cute.composition``, ``cute.logical_divide``, ...) from plain Python.
* `table(layout)`: the layout's value at every coordinate as a NumPy array (rows = mode 0, columns = mode 1).
* `plot_layout` / `plot_tv_layout`: a coloured grid with the index in each cell; a thread-value (TV) layout drawn
  over the tile it covers, one colour per thread, ``T<thread>/V<value>`` in each cell.
* `check_layout(answer, expected, name=...)`: compares two layouts on *every* coordinate (with
  `bwkit.kit.checks.check`, so it prints ✅/❌, diagnoses known mistakes and raises).
* `coalesce`, `complement`: CuTe's two simplest algebra operations in plain Python, and `complement_violation`,
  the rule a layout must meet for its complement to exist. From the first `run_cute` on (or the import of this
  module after CuTe's), that rule is checked before every CuTe complement, product and divide, in the learner's
  own ``@cute.jit`` code too (`keep_cute_guarded`): CuTe DSL 4.8.1 kills the process (SIGFPE) on some
  products of a layout that breaks it, e.g. ``logical_product((4,4):(8,16), (2,4):(2,4))``; bwkit raises
  `LayoutAlgebraError` naming the rule instead.

    from bwkit import layouts as L
    import cutlass.cute as cute
    row = L.Layout((4, 8), (8, 1))
    tiles = L.run_cute(lambda: cute.zipped_divide(cute.make_layout((8, 8), stride=(8, 1)), (2, 4)))
    L.plot_layout(tiles, title="zipped_divide((8,8):(8,1), (2,4))")

Coordinates follow CuTe: an integer index into a mode is split colexicographically (the leftmost sub-mode fastest).
Taught in lab 05 (steps 1-3).
"""

from __future__ import annotations

import contextlib
import numbers
import operator
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bwkit.kit.args import check_number

__all__ = ["Layout", "IntTuple", "run_cute", "from_cute", "table", "plot_layout", "plot_tv_layout",
           "tv_table", "check_layout", "swizzle", "flatten", "product", "coalesce", "complement",
           "complement_violation", "LayoutAlgebraError", "guard_cute", "keep_cute_guarded"]

IntTuple = Any  # an int or a (nested) tuple of ints


def flatten(t: IntTuple) -> tuple[int, ...]:
    """The leaves of a nested int tuple, left to right: flatten(((2, 2), 8)) == (2, 2, 8)."""
    if isinstance(t, int):
        return (t,)
    return tuple(x for s in t for x in flatten(s))


def product(t: IntTuple) -> int:
    """Product of all leaves of a nested int tuple (the number of coordinates of a shape)."""
    n = 1
    for x in flatten(t):
        n *= x
    return n


def _check_int_tuple(t: IntTuple, what: str) -> None:
    if isinstance(t, bool) or not isinstance(t, (int, tuple)):
        raise TypeError(f"{what} must be an int or a nested tuple of ints, got {t!r}")
    if isinstance(t, tuple):
        if not t:
            raise ValueError(f"{what} must not contain an empty tuple")
        for x in t:
            _check_int_tuple(x, what)


def _congruent(a: IntTuple, b: IntTuple) -> bool:
    if isinstance(a, int) or isinstance(b, int):
        return isinstance(a, int) and isinstance(b, int)
    return len(a) == len(b) and all(_congruent(x, y) for x, y in zip(a, b, strict=True))


def _as_coord(coord: Any) -> IntTuple:
    """`coord` (not a plain int or tuple) as one: a NumPy int -> int, a list -> tuple; a float, bool, str... raise."""
    if isinstance(coord, numbers.Integral) and not isinstance(coord, bool):
        return operator.index(coord)
    if isinstance(coord, list):
        return tuple(coord)
    if isinstance(coord, float):
        hint = f": pass {int(coord)}" if coord.is_integer() else ""
        raise TypeError(f"coordinate {coord!r} is a float; a coordinate must be an int (or a tuple of ints){hint}")
    raise TypeError(f"coordinate {coord!r} ({type(coord).__name__}) must be an int or a tuple of ints")


def _dot(coord: IntTuple, shape: IntTuple, stride: IntTuple) -> int:
    """Index of `coord` (an int or a tuple matching `shape`) under (shape, stride)."""
    if type(coord) is not int and not isinstance(coord, tuple):
        coord = _as_coord(coord)
    if isinstance(shape, int):
        if not isinstance(coord, int):
            raise ValueError(f"coordinate {coord!r} has more modes than the shape {shape}")
        if not 0 <= coord < shape:
            raise IndexError(f"coordinate {coord} is outside a mode of size {shape}")
        return coord * stride
    if isinstance(coord, int):  # an integer for a nested mode: split it colexicographically
        if not 0 <= coord < product(shape):
            raise IndexError(f"index {coord} is outside a mode of size {product(shape)} (shape {shape})")
        total = 0
        for s, d in zip(shape, stride, strict=True):
            n = product(s)
            total += _dot(coord % n, s, d)
            coord //= n
        return total
    if len(coord) != len(shape):
        raise ValueError(f"coordinate {coord!r} does not match the shape {shape} (rank {len(shape)})")
    return sum(_dot(c, s, d) for c, s, d in zip(coord, shape, stride, strict=True))


def _check_swizzle(bits: int, base: int, shift: int) -> None:
    for name, v in (("B (bits)", bits), ("M (base)", base), ("S (shift)", shift)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"swizzle {name} must be an int, got {v!r}")
    if bits < 0 or base < 0:
        raise ValueError(f"swizzle bits and base must be >= 0, got B={bits}, M={base}")


def swizzle(x: int, bits: int, base: int, shift: int) -> int:
    """CuTe's Swizzle<B, M, S> applied to an index: XOR bits [M, M+B) with bits [M+S, M+S+B)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"swizzle: the index x must be an int, got {x!r}")
    _check_swizzle(bits, base, shift)
    return _swizzle(x, bits, base, shift)


def _swizzle(x: int, bits: int, base: int, shift: int) -> int:
    """`swizzle` without the argument checks (a `Layout` checks its swizzle once, when it is built)."""
    if bits == 0 or shift == 0:
        return x
    mask = ((1 << bits) - 1) << base
    return x ^ ((x >> shift) & mask) if shift > 0 else x ^ ((x << -shift) & mask)


@dataclass(frozen=True)
class Layout:
    """A static CuTe layout in plain Python: index = swizzle(offset + sum(coord_i * stride_i))."""

    shape: IntTuple
    stride: IntTuple
    swizzle: tuple[int, int, int] | None = None   # (B, M, S) of CuTe's Swizzle<B,M,S>, applied last
    offset: int = 0

    def __post_init__(self) -> None:
        _check_int_tuple(self.shape, "shape")
        _check_int_tuple(self.stride, "stride")
        if not _congruent(self.shape, self.stride):
            raise ValueError(f"shape {self.shape} and stride {self.stride} must have the same nesting (congruent)")
        if any(s <= 0 for s in flatten(self.shape)):
            raise ValueError(f"every extent of the shape must be >= 1, got {self.shape}")
        if self.swizzle is not None:
            if not isinstance(self.swizzle, (tuple, list)) or len(self.swizzle) != 3:
                raise ValueError(f"swizzle must be (B, M, S), got {self.swizzle!r}")
            _check_swizzle(*self.swizzle)
        if isinstance(self.offset, numbers.Integral) and not isinstance(self.offset, bool) and self.offset < 0:
            raise ValueError(f"Layout.offset must be an int >= 0, got {self.offset}: it is added to every index, so a "
                             "negative one gives negative indices (before the start of the buffer)")
        check_number("Layout.offset", self.offset, zero_ok=True)

    @property
    def rank(self) -> int:
        """Number of top-level modes (1 for an int shape)."""
        return 1 if isinstance(self.shape, int) else len(self.shape)

    @property
    def size(self) -> int:
        """Number of coordinates (product of the shape)."""
        return product(self.shape)

    def mode(self, i: int) -> Layout:
        """Top-level mode `i` as its own layout (no swizzle)."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"mode: i must be an int (a top-level mode number), got {i!r}")
        if self.rank == 1 and isinstance(self.shape, int):
            if i != 0:
                raise IndexError(f"layout of rank 1 has no mode {i}")
            return Layout(self.shape, self.stride)
        if not -self.rank <= i < self.rank:
            raise IndexError(f"layout {self} has rank {self.rank} (modes 0 to {self.rank - 1}): it has no mode {i}")
        return Layout(self.shape[i], self.stride[i])

    def __call__(self, *coord: IntTuple) -> int:
        """Index of a coordinate: L(5), L((1, 2)) or L(1, 2)."""
        c = coord[0] if len(coord) == 1 else tuple(coord)
        idx = self.offset + _dot(c, self.shape, self.stride)
        return _swizzle(idx, *self.swizzle) if self.swizzle else idx

    def cosize(self) -> int:
        """1 + the largest index the layout produces (the span of memory it touches).

        Without a swizzle, in closed form: 1 + offset + sum over the leaf modes of max(0, (size - 1) * stride)
        (hierarchical shapes included). With non-negative strides that is CuTe's cosize, layout(size - 1) + 1;
        with a negative stride CuTe's last coordinate is not the largest index, and this still gives the largest.
        A swizzled layout is evaluated on every coordinate (at most 2**22, as `table`).
        """
        if not self.swizzle:
            leaves = zip(flatten(self.shape), flatten(self.stride), strict=True)
            return 1 + self.offset + sum(max(0, (s - 1) * d) for s, d in leaves)
        if self.size > _MAX_TABLE:
            raise ValueError(f"cosize: {self} has {self.size:,} coordinates; a swizzled layout's cosize evaluates "
                             f"every one in Python (at most {_MAX_TABLE:,}): take the cosize of its unswizzled "
                             "part instead (the swizzle changes only bits [M, M+B) of an index, so the swizzled "
                             "cosize is at most that one rounded up to a multiple of 2**(M+B))")
        return 1 + max(self(i) for i in range(self.size))

    def __str__(self) -> str:
        def fmt(t: IntTuple) -> str:
            return str(t) if isinstance(t, int) else "(" + ",".join(fmt(x) for x in t) + ")"

        base = f"{fmt(self.shape)}:{fmt(self.stride)}"
        if self.swizzle:
            b, m, s = self.swizzle
            return f"S<{b},{m},{s}> o {self.offset} o {base}"
        return base


def from_cute(layout) -> Layout:
    """Copy a static CuTe `Layout` or swizzled `ComposedLayout` into a plain `Layout` (call inside @cute.jit)."""
    import cutlass.cute as cute

    if isinstance(layout, Layout):
        return layout
    if isinstance(layout, cute.ComposedLayout):
        inner, outer = layout.inner, layout.outer
        if not hasattr(inner, "num_bits"):
            raise TypeError("from_cute: only composed layouts whose inner function is a Swizzle are supported")
        off = layout.offset
        return Layout(_as_py(outer.shape), _as_py(outer.stride), (inner.num_bits, inner.num_base, inner.num_shift),
                      int(off) if isinstance(off, int) else 0)
    if isinstance(layout, cute.Layout):
        return Layout(_as_py(layout.shape), _as_py(layout.stride))
    raise TypeError(f"from_cute needs a cute.Layout or cute.ComposedLayout, got {type(layout).__name__}")


def _as_py(t: IntTuple) -> IntTuple:
    if isinstance(t, tuple):
        return tuple(_as_py(x) for x in t)
    if isinstance(t, int):
        return int(t)
    raise TypeError(f"the layout is not static (found {t!r} of type {type(t).__name__}); only layouts with "
                    "compile-time shapes and strides can be copied to plain Python")


class LayoutAlgebraError(ValueError):
    """A CuTe layout-algebra operation whose inputs break one of its rules (the message names the rule)."""


def _modes(layout: Layout) -> list[tuple[int, int]]:
    """The (size, stride) leaves of a layout, without size-1 and stride-0 modes, sorted by stride (as CuTe does)."""
    leaves = zip(flatten(layout.shape), flatten(layout.stride), strict=True)
    return sorted(((s, d) for s, d in leaves if s != 1 and d != 0), key=lambda m: m[1])


def complement_violation(layout: Layout) -> str | None:
    """Why the complement of `layout` does not exist (None when it does).

    CuTe's rule: drop the modes of size 1 or stride 0, sort the others by stride; each stride must then be a
    multiple of size x stride of the mode before it (so the copies of the layout tile memory without overlaps
    or gaps that the complement cannot describe). Products (`logical_product`, `blocked_product`,
    `raked_product`, ...) complement their first layout and divides their tiler, so the rule applies there too.
    """
    if not isinstance(layout, Layout):
        raise TypeError(f"complement_violation needs a bwkit.layouts.Layout, got {type(layout).__name__}")
    if layout.swizzle is not None:
        return None   # swizzled layouts are not complemented by CuTe's rule; leave them to CuTe
    modes = _modes(layout)
    for (s0, d0), (s1, d1) in zip(modes, modes[1:], strict=False):
        if d1 % (s0 * d0):
            how = ("it starts inside that span: the modes interleave or overlap" if d1 < s0 * d0
                   else "the gap is not a whole number of spans")
            return (f"{layout} has no complement: sorted by stride, each stride must be a multiple of the previous "
                    f"mode's size x stride, and {d1} (mode {s1}:{d1}) is not a multiple of {s0} x {d0} = "
                    f"{s0 * d0} ({how})")
    return None


def coalesce(layout: Layout) -> Layout:
    """CuTe's `coalesce` in plain Python: the same function with the fewest modes (merges s0:d0 ++ s1:s0*d0)."""
    if not isinstance(layout, Layout):
        raise TypeError(f"coalesce needs a bwkit.layouts.Layout, got {type(layout).__name__}")
    if layout.swizzle is not None:
        raise ValueError(f"coalesce: {layout} is swizzled; coalesce its layout part")
    out: list[list[int]] = []
    for s, d in zip(flatten(layout.shape), flatten(layout.stride), strict=True):
        if s == 1:
            continue
        if out and out[-1][0] * out[-1][1] == d:
            out[-1][0] *= s
        else:
            out.append([s, d])
    if not out:
        return Layout(1, 0, offset=layout.offset)
    if len(out) == 1:
        return Layout(out[0][0], out[0][1], offset=layout.offset)
    return Layout(tuple(m[0] for m in out), tuple(m[1] for m in out), offset=layout.offset)


def complement(layout: Layout, cotarget: int) -> Layout:
    """CuTe's `complement(layout, cotarget)` in plain Python: the layout that fills what `layout` leaves of
    [0, cotarget), modes by increasing stride (coalesced). Raises `LayoutAlgebraError` when it does not exist."""
    if not isinstance(layout, Layout):
        raise TypeError(f"complement needs a bwkit.layouts.Layout, got {type(layout).__name__}")
    if isinstance(cotarget, bool) or not isinstance(cotarget, int) or cotarget < 1:
        raise ValueError(f"complement: cotarget must be a positive int, got {cotarget!r}")
    why = complement_violation(layout)
    if why is not None:
        raise LayoutAlgebraError(f"complement: {why}")
    shape, stride, current = [], [], 1
    for s, d in _modes(layout):
        shape.append(d // current)
        stride.append(current)
        current = s * d
    shape.append(-(-cotarget // current))
    stride.append(current)
    return coalesce(Layout(tuple(shape), tuple(stride)))


_GUARD_LOCK = threading.RLock()
_GUARD_DEPTH = [0]
_GUARDED_OPS = ("complement", "logical_product", "zipped_product", "tiled_product", "flat_product",
                "blocked_product", "raked_product", "logical_divide", "zipped_divide", "tiled_divide",
                "flat_divide")


def _static(value: Any) -> Layout | None:
    """`value` as a plain Layout when it is a static, unswizzled CuTe layout; else None (nothing to check)."""
    import cutlass.cute as cute

    if isinstance(value, Layout):
        return value
    if not isinstance(value, cute.Layout):
        return None
    try:
        return Layout(_as_py(value.shape), _as_py(value.stride))
    except (TypeError, ValueError, AttributeError):
        return None


def _guarded(op: str, fn: Callable) -> Callable:
    """`fn` (a CuTe IR builder) preceded by the admissibility rule of `op`."""
    def wrapper(*args, **kwargs):
        if op.endswith("_divide"):
            checked = _static(kwargs.get("tiler", args[1] if len(args) > 1 else None))
            role = "the tiler"
        else:
            checked = _static(kwargs.get("input", args[0] if args else None))
            role = "the layout" if op == "complement" else "the block"
            if op != "complement" and _static(kwargs.get("tiler", args[1] if len(args) > 1 else None)) is None:
                checked = None    # a by-mode product: CuTe multiplies each mode on its own
        why = None if checked is None else complement_violation(checked)
        if why is not None:
            raise LayoutAlgebraError(f"cute.{op}: {role} {why}; CuTe DSL 4.8.1 fails on it (on products it kills "
                                     "the process), so bwkit stops here")
        return fn(*args, **kwargs)

    wrapper.__wrapped__ = fn
    return wrapper


@contextlib.contextmanager
def guard_cute() -> Iterator[None]:
    """Within this block, every CuTe complement, product and divide first checks `complement_violation`.

    `run_cute` uses it; it wraps CuTe's IR builders (`cutlass._mlir.dialects.cute`), so calls made through
    `cute.*` or from CUTLASS's own helpers are all checked. Layouts that are not static are passed through.
    """
    _install_guard()
    try:
        yield
    finally:
        _lift_guard()


def _install_guard() -> None:
    from cutlass._mlir.dialects import cute as cute_ir

    with _GUARD_LOCK:
        if _GUARD_DEPTH[0] == 0:
            for op in _GUARDED_OPS:
                if hasattr(cute_ir, op):
                    setattr(cute_ir, op, _guarded(op, getattr(cute_ir, op)))
        _GUARD_DEPTH[0] += 1


def _lift_guard() -> None:
    from cutlass._mlir.dialects import cute as cute_ir

    with _GUARD_LOCK:
        _GUARD_DEPTH[0] -= 1
        if _GUARD_DEPTH[0] == 0:
            for op in _GUARDED_OPS:
                fn = getattr(cute_ir, op, None)
                if fn is not None and hasattr(fn, "__wrapped__"):
                    setattr(cute_ir, op, fn.__wrapped__)


_KEPT: list = []      # [True] once keep_cute_guarded() has installed the guard for good


def keep_cute_guarded() -> None:
    """From now on every CuTe complement, product and divide checks `complement_violation` first, a learner's own
    ``@cute.jit`` code included (CuTe DSL 4.8.1 kills the process with SIGFPE on some inadmissible products).
    `run_cute` calls it, and so does ``import bwkit.layouts`` when CuTe DSL is already imported."""
    with _GUARD_LOCK:
        if not _KEPT:
            _install_guard()      # one level of guard_cute's depth that is never lifted
            _KEPT.append(True)


def run_cute(builder: Callable[[], Any]) -> Any:
    """Run `builder()` inside a host `@cute.jit` function on the CPU; return its layout(s) as `Layout`s.

    `builder` takes no arguments and returns a CuTe layout, or a tuple/list of them (converted one by one), a
    swizzle (returned as its (B, M, S) triple), or any plain Python value (returned as is); any other CuTe
    object raises TypeError (it would not outlive the jit function). Python `print` inside the builder shows
    CuTe objects; `cute.printf` output may need `sys.stdout.flush()` to appear in a notebook. Complements,
    products and divides are checked first, here and in every later CuTe call (`keep_cute_guarded`): one whose
    layout has no complement raises `LayoutAlgebraError` naming the rule.
    """
    import cutlass.cute as cute

    if not callable(builder):
        raise TypeError(f"run_cute needs a zero-argument callable, got {type(builder).__name__}")
    box: dict[str, Any] = {}

    def convert(v: Any) -> Any:
        if isinstance(v, (cute.Layout, cute.ComposedLayout)):
            return from_cute(v)
        if isinstance(v, cute.Swizzle):       # (B, M, S), as `Layout.swizzle`: the object dies with the jit
            return (int(v.num_bits), int(v.num_base), int(v.num_shift))
        if isinstance(v, (tuple, list)):
            items = [convert(x) for x in v]
            return type(v)(*items) if hasattr(v, "_fields") else type(v)(items)
        module = type(v).__module__ or ""
        if module.startswith(("cutlass", "mlir", "_mlir")) and not isinstance(v, (int, float, bool, str)):
            raise TypeError(f"run_cute: the builder returned a {type(v).__name__} ({v}): it lives only inside the "
                            "jit function (printing it afterwards would crash the kernel); return layouts, "
                            "swizzles or plain Python values, or print it inside the builder")
        return v

    @cute.jit
    def _host():
        box["out"] = convert(builder())

    keep_cute_guarded()
    _host(no_cache=True)
    return box["out"]


def _mode_sizes(layout: Layout) -> tuple[int, ...]:
    if isinstance(layout.shape, int):
        return (layout.shape,)
    return tuple(product(s) for s in layout.shape)


_MAX_TABLE = 1 << 22     # entries `table` evaluates one by one (about 4 s; 2^32 would allocate 32 GiB first)


def _dims(fn: str, shape: Any) -> tuple[int, ...]:
    """`shape` (an int, or a sequence of positive ints, one per mode) as a tuple; raise naming `fn`'s argument."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{fn}: shape must be a sequence of positive ints (one size per mode), got "
                        f"{shape!r}") from None
    if not dims:
        raise ValueError(f"{fn}: shape must have at least one mode, got {shape!r}")
    for k, s in enumerate(dims):
        check_number(f"{fn}: shape[{k}]", s)
    return tuple(int(s) for s in dims)


def _tile_mn(fn: str, tile_mn: Any) -> tuple[int, int]:
    """`tile_mn` as (M, N), two positive ints; raise naming `fn`'s argument."""
    try:
        m, n = tile_mn
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: tile_mn must be a pair (M, N) of positive ints, got {tile_mn!r}") from None
    check_number(f"{fn}: tile_mn[0] (M)", m)
    check_number(f"{fn}: tile_mn[1] (N)", n)
    return int(m), int(n)


def table(layout: Layout | Callable[..., int], shape: Sequence[int] | None = None):
    """NumPy int array of `layout` at every coordinate: a[i, j] = layout((i, j)) for a rank-2 layout.

    `layout` is a `Layout` (its top-level modes give the array's shape; nested modes are indexed by an integer
    split colexicographically, as in CuTe) or any Python function of integer coordinates, together with `shape`.
    """
    import numpy as np

    if isinstance(layout, Layout):
        dims = _mode_sizes(layout) if shape is None else _dims("table", shape)
        if shape is not None and dims != _mode_sizes(layout):
            raise ValueError(f"shape {dims} does not match the layout's mode sizes {_mode_sizes(layout)}")
        fn: Callable[..., int] = layout
    elif callable(layout):
        if shape is None:
            raise ValueError("table(function, shape): give the shape of the coordinate space")
        dims, fn = _dims("table", shape), layout
    else:
        raise TypeError(f"table needs a bwkit.layouts.Layout or a function, got {type(layout).__name__} "
                        "(inside @cute.jit convert CuTe layouts with from_cute, or build them with run_cute)")
    entries = int(np.prod(dims, dtype=object))
    if entries > _MAX_TABLE:
        raise ValueError(f"table: a {' x '.join(map(str, dims))} table has {entries:,} entries; it evaluates every "
                         f"coordinate in Python (at most {_MAX_TABLE:,}): draw a tile of the layout, not all of it")
    out = np.empty(dims, dtype=np.int64)
    for idx in np.ndindex(*dims):
        v = fn(*idx) if len(idx) > 1 else fn(idx[0])
        out[idx] = _index(v, idx)
    return out


def _index(v, idx: tuple) -> int:
    """A layout function's value at `idx` as an int (the checks' rule, `bwkit.kit.checks.as_int`): int() would
    truncate 2.5 to 2 and parse '5' (TypeError for None, a str or a non-integral number, naming the coordinate)."""
    from bwkit.kit.checks import as_int

    n = as_int(v)
    if n is not None:
        return n
    if v is None:
        raise TypeError(f"the layout function returned None at {idx}: is a `return` missing?")
    shown = f"{v:.4g}" if isinstance(v, float) else repr(v)[:40]
    raise TypeError(f"the layout function returned {shown} ({type(v).__name__}) at {idx}: an index must be an int")


def _cell_grid(ax, rows: int, cols: int, xlabel: str, ylabel: str, title: str):
    """Draw cell borders and labels on an imshow of a rows x cols grid; return `ax`."""
    import numpy as np

    ax.set_xticks(np.arange(cols))
    ax.set_yticks(np.arange(rows))
    ax.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="k", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


def plot_layout(layout: Layout | Callable[..., int], shape: Sequence[int] | None = None, *, title: str | None = None,
                ax=None, colors: int = 8, color_by: str = "value"):
    """Draw a rank-1 or rank-2 layout as a grid: one cell per coordinate, its index written in the cell.

    Cells are coloured by `index % colors` (`color_by='value'`; 8 colours show e.g. which 16-byte chunk or
    which bank group an element lands in) or by `index // colors` (`color_by='block'`). Returns the axes.
    """
    import matplotlib.pyplot as plt

    if color_by not in ("value", "block"):
        raise ValueError(f"color_by must be 'value' or 'block', got {color_by!r}")
    check_number("plot_layout: colors", colors)
    t = table(layout, shape)
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2:
        raise ValueError(f"plot_layout draws rank-1 or rank-2 layouts; this one has {t.ndim} modes")
    rows, cols = t.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.0, 0.5 * cols + 1), max(1.5, 0.5 * rows + 1)))
    key = t % colors if color_by == "value" else t // colors
    ax.imshow(key, cmap="tab20" if colors > 10 else "Pastel1", aspect="equal",
              vmin=0, vmax=max(colors - 1, int(key.max())))
    for i in range(rows):
        for j in range(cols):
            ax.text(j, i, str(t[i, j]), ha="center", va="center", fontsize=8 if t.max() < 1000 else 6)
    return _cell_grid(ax, rows, cols, "mode 1 (column)", "mode 0 (row)",
                      title if title is not None else (str(layout) if isinstance(layout, Layout) else "layout"))


def tv_table(tv: Layout, tile_mn: tuple[int, int]):
    """Invert a thread-value layout: arrays (thread, value) of shape `tile_mn` saying who owns each element.

    `tv` maps (thread, value) to an element index of an M x N tile stored column-major (index = m + M*n), as
    CuTe's TV layouts do. Raises when an element is owned twice or an index falls outside the tile.
    """
    import numpy as np

    if not isinstance(tv, Layout) or tv.rank != 2:
        raise ValueError(f"tv must be a rank-2 Layout (thread, value), got {tv}")
    M, N = _tile_mn("tv_table", tile_mn)
    thr = np.full((M, N), -1, dtype=np.int64)
    val = np.full((M, N), -1, dtype=np.int64)
    n_thr, n_val = _mode_sizes(tv)
    for t in range(n_thr):
        for v in range(n_val):
            idx = tv((t, v))
            if not 0 <= idx < M * N:
                raise ValueError(f"TV layout sends (thread {t}, value {v}) to {idx}, outside the {M}x{N} tile")
            m, n = idx % M, idx // M
            if thr[m, n] >= 0:
                raise ValueError(f"element ({m}, {n}) is owned by thread {thr[m, n]} and thread {t}")
            thr[m, n], val[m, n] = t, v
    return thr, val


def plot_tv_layout(tv: Layout, tile_mn: tuple[int, int], *, title: str | None = None, ax=None):
    """Draw which thread (colour, T#) holds which value (V#) of an M x N tile under a TV layout. Returns axes."""
    import matplotlib.pyplot as plt
    import numpy as np

    M, N = _tile_mn("plot_tv_layout", tile_mn)
    thr, val = tv_table(tv, (M, N))
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.0, 0.7 * N + 1), max(1.5, 0.5 * M + 1)))
    shown = np.where(thr >= 0, thr % 20, np.nan)
    ax.imshow(shown, cmap="tab20", vmin=0, vmax=19, aspect="auto")
    for i in range(M):
        for j in range(N):
            txt = f"T{thr[i, j]}\nV{val[i, j]}" if thr[i, j] >= 0 else "-"
            ax.text(j, i, txt, ha="center", va="center", fontsize=6)
    return _cell_grid(ax, M, N, "n", "m", title if title is not None else f"TV layout {tv} on a {M}x{N} tile")


def check_layout(answer: Layout | Callable[..., int], expected: Layout | Callable[..., int], *, name: str,
                 shape: Sequence[int] | None = None, mistakes: dict[str, Any] | None = None,
                 hint: str | None = None) -> None:
    """Compare two layouts on every coordinate (✅/❌ via `bwkit.kit.checks.check`); raise when they differ.

    Both sides are evaluated with `table` (give `shape` when one of them is a plain function). `mistakes` maps a
    diagnosis to a wrong layout a learner classically writes (a `Layout`, a function of coordinates, or a
    zero-argument callable that builds one). A non-layout answer fails with a
    message saying what was expected.
    """
    from bwkit.kit.checks import check
    from bwkit.kit.checks import failed as _fail

    ref_shape = shape
    if ref_shape is None and isinstance(expected, Layout):
        ref_shape = _mode_sizes(expected)
    if answer is None:
        _fail(name, ["your code returned None: is a `return` missing?"], hint)
    if not isinstance(answer, Layout) and not callable(answer):
        _fail(name, [f"expected a bwkit.layouts.Layout (or a function of coordinates), got "
                     f"{type(answer).__name__}: build CuTe layouts with run_cute(...)"], hint)
    ref = table(expected, ref_shape)
    if isinstance(answer, Layout) and _mode_sizes(answer) != ref.shape:
        known = [d for d, w in (mistakes or {}).items() if isinstance(w, Layout) and w == answer]
        _fail(name, [f"your layout {answer} has mode sizes {_mode_sizes(answer)}, expected {ref.shape}"],
              f"Likely mistake: {known[0]}" if known else hint)

    def safe_table(w: Any):
        try:
            return table(w() if callable(w) and not isinstance(w, Layout) and _takes_no_args(w) else w, ref.shape)
        except (ValueError, TypeError, IndexError):
            return None  # a mistake model that cannot be evaluated on this shape is simply not this mistake

    out = table(answer, ref.shape)
    wrong = {d: (lambda w=w: safe_table(w)) for d, w in (mistakes or {}).items()}
    check(out, ref, name=name, atol=0, rtol=0, mistakes=wrong, hint=hint)


def _takes_no_args(fn: Callable) -> bool:
    import inspect

    try:
        return not inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


if "cutlass.cute" in sys.modules:      # CuTe first, then bwkit.layouts: guard it from here on
    keep_cute_guarded()
