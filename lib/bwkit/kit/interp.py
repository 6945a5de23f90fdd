"""Memory-safe launches for the Triton interpreter: every load and store checked before it touches memory.

    from bwkit.kit.interp import safe_launch, OutOfBoundsAccess, UnwrittenOutput
    report = safe_launch(kernel, (2, 2), a, b, c, M, N, K, *strides, BLOCK_M=32, BLOCK_N=32, BLOCK_K=16)
    report.unwritten("c_ptr")                   # bool array: the elements of C no program stored
    report.require_written("c_ptr")             # raise UnwrittenOutput naming the rows/columns/tiles left unwritten

Why: triton 3.9's interpreter runs `tl.load` / `tl.store` as raw reads and writes of whatever addresses the kernel
computed (`_interpreter.load/store` on the pointer tensor's uint64 data); nothing is bounds-checked. A store
without its mask writes past the end of C's heap block and kills the process (a segfault, or glibc's "corrupted
size vs. prev_size"), taking a Jupyter kernel and its state with it; a load without its mask reads neighbouring
memory and shows up only as NaN or garbage in C.

How (as Triton-Puzzles-Lite does it, at the narrowest point): for the duration of one launch the interpreter's
builder object (`triton.runtime.interpreter.interpreter_builder`) gets instance attributes in front of its
memory methods — `create_load`, `create_store`, `create_masked_load`, `create_masked_store` (TMA descriptor
loads/stores go through the masked pair), `create_atomic_rmw`, `create_atomic_cas` — of `create_dot` (the bf16
guard, triton issue 11584) and of the methods that shape pointer blocks (`create_splat`, `create_addptr`,
`create_broadcast`, `create_expand_dims`, `create_reshape`, `create_trans`, `create_select`), which tag each
pointer block with the tensor argument it came from. Each check maps the active addresses of an access into that
tensor as logical coordinates: a 2-D pointer block of the form `base + rows*s0 + cols*s1` is decomposed into its
row and column indices (so column 53 of a 37x53 C is outside even though its address is row 1's column 0),
anything else is decoded from the address with the tensor's strides. An active element outside its tensor raises
`OutOfBoundsAccess` (with a `details` dict the exercise codec carries) *before* the original method runs; stores
mark what they wrote, so a launch can also say which part of an output no program ever stored. Everything is
removed again when the launch ends, also when it fails (`bwkit.inspect.compile_triton` keeps working). On a GPU
(no interpreter) `safe_launch` is a plain `kernel[grid](...)`. A masked load without `other=` reads NaN in its
masked-off lanes (floating-point elements): Triton leaves them undefined, and the plain interpreter's zeros would
hide a K loop that forgot ``other=0.0``.

Overhead, measured on the kit's shared 2-core CPU machine under load (triton 3.9 interpreter, `overhead()`: best
of 15 interleaved plain and checked launches, three runs): lab 03's K-loop kernel on 37x53x45 fp16 with 32x32x16
tiles (4 programs, 28 checked accesses) took 1.13-1.28x the plain launch's time (e.g. 40.7 ms plain, 46.2 ms
checked); 128x128x128 with 32x32x32 tiles (16 programs, 144 accesses) 1.05-1.25x (209 ms vs 245 ms). One check
of a 32x32 pointer block costs about 0.1 ms. `benchmarks/bench_interp.py` re-measures it.
Taught in lab 03 (exercises 03.1 and 03.3).
"""

from __future__ import annotations

import contextlib
import numbers
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bwkit.kit import runtime

__all__ = ["safe_launch", "memory_checks", "LaunchReport", "OutOfBoundsAccess", "UnwrittenOutput", "overhead"]

_MEMORY = ("create_load", "create_store", "create_masked_load", "create_masked_store", "create_atomic_rmw",
           "create_atomic_cas", "create_dot")
# pointer-shaping methods: the result keeps the tensor argument its pointer came from (handle.attr["bwkit_arg"])
_SHAPING = {"create_splat": 1, "create_addptr": 0, "create_broadcast": 0, "create_expand_dims": 0,
            "create_reshape": 0, "create_trans": 0, "create_select": 1}
_PATCHED = _MEMORY + tuple(_SHAPING)
_ATTR = "bwkit_arg"
_MAX_FIRST = 5


class OutOfBoundsAccess(IndexError):
    """A load or store of an interpreted kernel reached outside the tensor its pointer came from.

    `details`: kernel, program, arg, tensor, shape, op ('load' | 'store' | 'atomic'), mask ('missing' |
    'incomplete'), first (up to 5 offending coordinates), count, rows / cols ([lo, hi] of the offending indices
    outside that axis, or None), transposed (the block's rows walk the tensor's columns).
    """

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


class UnwrittenOutput(RuntimeError):
    """Part of an output tensor was never stored by any program of the launch (`details` says which part)."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


def _label(name: str) -> str:
    """'c_ptr' -> 'C', 'a_sf_ptr' -> 'a_sf': how messages name the tensor behind a pointer argument."""
    base = name[:-4] if name.endswith("_ptr") else name
    return base.upper() if len(base) == 1 else base


def _span(vals: np.ndarray) -> str:
    lo, hi = int(vals.min()), int(vals.max())
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


@dataclass
class _Arg:
    """One tensor argument of the launch: where its elements live and what the launch stored into it."""

    name: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    base: int
    itemsize: int
    lo: int
    hi: int
    written: np.ndarray

    @classmethod
    def of(cls, name: str, t) -> _Arg:
        shape, strides = tuple(int(s) for s in t.shape), tuple(int(s) for s in t.stride())
        itemsize = int(t.element_size())
        base = int(t.data_ptr())
        span = 1 + sum((s - 1) * st for s, st in zip(shape, strides, strict=True)) if t.numel() else 0
        return cls(name, shape, strides, base, itemsize, base, base + span * itemsize, np.zeros(shape, dtype=bool))

    @property
    def label(self) -> str:
        """The tensor's name in messages ('C')."""
        return _label(self.name)

    def shape_text(self) -> str:
        """'37×53' (a 1-D tensor: '50-element')."""
        if len(self.shape) == 1:
            return f"{self.shape[0]}-element"
        return "×".join(map(str, self.shape)) or "scalar"

    def decode(self, elem: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """(coordinates per dim, exact) of element offsets `elem`, from the strides (largest first)."""
        rem = elem.copy()
        coords: list[np.ndarray] = [np.zeros_like(elem)] * len(self.shape)
        for d in sorted(range(len(self.shape)), key=lambda d: -self.strides[d]):
            st = self.strides[d]
            if self.shape[d] == 1 or st == 0:
                continue
            coords[d] = rem // st
            rem = rem - coords[d] * st
        return coords, rem == 0

    def coords(self, elem: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, bool]:
        """(coordinates per dim, decodable, transposed) of a block of element offsets into this tensor.

        A 2-D block `base + r*s0 + c*s1` (separable) is decomposed along its own axes, so an index past the end
        of a row counts as outside even when its address lands in the next row; anything else is decoded from
        the address.
        """
        if len(self.shape) == 2 and elem.ndim == 2 and elem.size and 0 not in self.strides:
            e00 = elem[0, 0]
            u, v = elem[:, :1] - e00, elem[:1, :] - e00
            if np.array_equal(elem, e00 + u + v):
                s0, s1 = self.strides
                (r0, c0), _ = self.decode(np.array([e00]))
                r0, c0 = int(r0[0]), int(c0[0])
                ok = np.ones(elem.shape, dtype=bool)
                if not (u % s0).any() and not (v % s1).any():
                    return [np.broadcast_to(r0 + u // s0, elem.shape), np.broadcast_to(c0 + v // s1, elem.shape)], \
                        ok, False
                if not (u % s1).any() and not (v % s0).any():
                    return [np.broadcast_to(r0 + v // s0, elem.shape), np.broadcast_to(c0 + u // s1, elem.shape)], \
                        ok, bool(u.any())
        coords, exact = self.decode(elem)
        return coords, exact, False


@dataclass
class LaunchReport:
    """What a checked launch did: the kernel, grid, how many accesses were checked and what each store covered."""

    kernel: str
    grid: tuple[int, ...]
    checked: bool
    accesses: int = 0
    written: dict[str, np.ndarray] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)
    transposed: set[tuple[str, str]] = field(default_factory=set)   # (op, arg) whose block rows ran along columns
    seconds: float = 0.0

    def unwritten(self, name: str) -> np.ndarray:
        """Bool array in the shape of argument `name`: True where no program of the launch stored."""
        if name not in self.written:
            known = ", ".join(self.written) or "none"
            raise KeyError(f"{name!r} is not a tensor argument of this launch (tensor arguments: {known})")
        return ~self.written[name]

    def describe_unwritten(self, name: str, tile: Sequence[int] | None = None) -> str | None:
        """One sentence on the part of `name` left unwritten (rows, columns, tiles), or None when all was written."""
        miss = self.unwritten(name)
        if not self.checked or not miss.any():
            return None
        label, shape = _label(name), "×".join(map(str, miss.shape))
        if miss.all():
            what = f"none of {label} ({shape}) was written: no program stored into {name}"
        elif miss.ndim == 2:
            rows, cols = miss.all(axis=1), miss.all(axis=0)
            if np.array_equal(miss, rows[:, None] | cols[None, :]):
                parts = [f"rows {_span(np.flatnonzero(rows))}" if rows.any() else "",
                         f"columns {_span(np.flatnonzero(cols))}" if cols.any() else ""]
                what = " and ".join(p for p in parts if p) + f" of {label} ({shape}) were never written"
            else:
                first = tuple(int(i) for i in np.argwhere(miss)[0])
                what = f"{int(miss.sum())} of {miss.size} elements of {label} ({shape}) were never written, " \
                       f"the first at {first}"
        else:
            first = int(np.flatnonzero(miss.reshape(-1))[0])
            what = f"{int(miss.sum())} of {miss.size} elements of {label} were never written, the first at {first}"
        if tile is not None and miss.ndim == 2:
            bm, bn = int(tile[0]), int(tile[1])
            tiles = sorted({(int(r) // bm, int(c) // bn) for r, c in np.argwhere(miss)})
            shown = ", ".join(f"({i}, {j})" for i, j in tiles[:6]) + (", ..." if len(tiles) > 6 else "")
            what += f" (tile{'s' if len(tiles) > 1 else ''} {shown} of {bm}×{bn})"
        return what

    def require_written(self, *names: str, tile: Sequence[int] | None = None) -> None:
        """Raise `UnwrittenOutput` if any element of the arguments `names` was never stored by the launch."""
        for name in names:
            text = self.describe_unwritten(name, tile)
            if text is not None:
                miss = self.unwritten(name)
                details = {"kernel": self.kernel, "arg": name, "tensor": _label(name), "shape": list(miss.shape),
                           "unwritten": int(miss.sum()), "first": [int(i) for i in np.argwhere(miss)[0]]}
                if tile is not None and miss.ndim == 2:
                    details["tiles"] = sorted({(int(r) // tile[0], int(c) // tile[1]) for r, c in np.argwhere(miss)})
                raise UnwrittenOutput(f"{text} — no program stored there (is a store missing, or do its offsets or "
                                      "mask skip part of the output?)", details)


class _Checker:
    """The checking versions of the interpreter builder's memory methods, for one launch."""

    def __init__(self, kernel: str, args: Sequence[_Arg], report: LaunchReport):
        self.kernel, self.args, self.report = kernel, list(args), report
        self.by_name = {a.name: a for a in self.args}
        self.by_base = {a.base: a.name for a in self.args}

    def provenance(self, h) -> str | None:
        """The tensor argument a pointer handle derives from: carried along, or a scalar equal to an argument."""
        attr = getattr(h, "attr", None)
        if attr is None:
            return None
        if _ATTR in attr:
            return attr[_ATTR]
        data = getattr(h, "data", None)
        if data is not None and data.size == 1 and data.dtype == np.uint64:
            return self.by_base.get(int(data.reshape(-1)[0]))
        return None

    # -- attribution and checks -------------------------------------------------------------------------------
    def _owner(self, ptrs, active: np.ndarray, bits: int) -> _Arg | None:
        name = getattr(ptrs, "attr", {}).get(_ATTR)
        if name is not None:
            return self.by_name[name]
        cands = [a for a in self.args if a.itemsize * 8 == bits] or self.args
        if not cands:
            return None
        amin = int(active.min())
        for a in cands:       # offsets from a pointer argument are >= 0: its lowest address lies in its tensor
            if a.lo <= amin < a.hi:
                return a
        counts = [int(((active >= a.lo) & (active < a.hi)).sum()) for a in cands]
        if max(counts) > 0:
            return cands[int(np.argmax(counts))]
        below = [a for a in cands if a.lo <= amin]
        return max(below, key=lambda a: a.lo) if below else min(cands, key=lambda a: a.lo)

    def check(self, op: str, ptrs, mask) -> None:
        """Raise OutOfBoundsAccess if an active element of this access lies outside its tensor; record stores."""
        from triton.runtime import interpreter as interp

        self.report.accesses += 1
        addrs = np.asarray(ptrs.data).astype(np.int64)
        if not self.args or addrs.size == 0:
            return
        act = np.ones(addrs.shape, dtype=bool) if mask is None else \
            np.broadcast_to(np.asarray(mask.data, dtype=bool), addrs.shape)
        if not act.any():
            return
        bits = max(8, ptrs.get_element_ty().primitive_bitwidth)
        arg = self._owner(ptrs, addrs[act], bits)
        if arg is None:
            return
        off = addrs - arg.base
        elem = off // arg.itemsize
        coords, exact, transposed = arg.coords(elem)
        if transposed:
            self.report.transposed.add((op, arg.name))
        inside = exact & (off % arg.itemsize == 0)
        for c, n in zip(coords, arg.shape, strict=True):
            inside = inside & (c >= 0) & (c < n)
        bad = act & ~inside
        if bad.any():
            grid = getattr(interp.interpreter_builder, "grid_dim", (1, 1, 1))
            idx = getattr(interp.interpreter_builder, "grid_idx", (0, 0, 0))
            raise self._error(op, arg, coords, bad, mask is None, transposed, tuple(idx), tuple(grid), addrs.shape,
                              _row_spill(arg, coords, act) if elem.ndim == 2 and not transposed else None)
        if op == "store" and arg.written.ndim:
            arg.written[tuple(np.asarray(c)[act] for c in coords)] = True
            self.report.stored.add(arg.name)

    def _error(self, op: str, arg: _Arg, coords, bad, no_mask: bool, transposed: bool, idx, grid, block,
               spill: tuple[str, str] | None = None):
        dims = max((i + 1 for i, g in enumerate(grid) if g > 1), default=1)
        pid = "(" + ", ".join(str(int(i)) for i in idx[:max(dims, len(self.report.grid))]) + ")"
        pts = [np.asarray(c)[bad] for c in coords]
        first = [[int(p[i]) for p in pts] for i in range(min(_MAX_FIRST, int(bad.sum())))]
        out_axes, spans = [], []
        names = ("rows", "columns") if len(arg.shape) == 2 else ("elements",) if len(arg.shape) == 1 else \
            tuple(f"indices of dim {d}" for d in range(len(arg.shape)))
        rows = cols = None
        for d, (p, n) in enumerate(zip(pts, arg.shape, strict=True)):
            outside = p[(p < 0) | (p >= n)]
            if outside.size:
                out_axes.append(d)
                spans.append(f"{names[d]} {_span(outside)}")
                if d == 0:
                    rows = [int(outside.min()), int(outside.max())]
                elif d == 1:
                    cols = [int(outside.min()), int(outside.max())]
        what = " and ".join(spans) if spans else f"{int(bad.sum())} element(s) at addresses that are not elements"
        verb = {"load": "load from", "store": "store to", "atomic": "atomic on"}[op]
        reason = f"your {op} has no mask" if no_mask else "your mask does not cover them"
        if transposed:
            reason = (f"the access walks {arg.label} transposed (the block's rows run along {arg.label}'s columns: "
                      "are two strides swapped?)")
        msg = (f"{verb} {arg.name} out of bounds in program {pid}: {what} of {arg.label} lie outside the "
               f"{arg.shape_text()} tensor — {reason} (first offending element {tuple(first[0])})")
        if spill is not None:
            msg += (f"; or columns {spill[1]} of rows {spill[0]}: a column past {arg.shape[1] - 1} wraps into "
                    "the next row, so check the column offsets too")
        details = {"kernel": self.kernel, "program": [int(i) for i in idx], "grid": [int(g) for g in grid],
                   "arg": arg.name, "tensor": arg.label, "shape": list(arg.shape), "op": op,
                   "mask": "missing" if no_mask else "incomplete", "first": first, "count": int(bad.sum()),
                   "rows": rows, "cols": cols, "out_axes": out_axes, "transposed": transposed,
                   "block": [int(b) for b in block]}
        return OutOfBoundsAccess(msg, details)

    # -- the methods installed on the builder -----------------------------------------------------------------
    def methods(self, builder) -> dict[str, Any]:
        """name -> replacement for the builder's memory methods and create_dot (closures over this checker)."""
        import triton.language as tl

        cls = type(builder)

        def create_load(ptr, *a, **k):
            self.check("load", ptr, None)
            return cls.create_load(builder, ptr, *a, **k)

        def create_masked_load(ptrs, mask, *a, **k):
            self.check("load", ptrs, mask)
            if a and a[0] is None:                  # no `other=`: the masked lanes are undefined on a GPU
                a = (_poison(ptrs), *a[1:])
            elif k.get("other", 0) is None:
                k = {**k, "other": _poison(ptrs)}
            return cls.create_masked_load(builder, ptrs, mask, *a, **k)

        def create_store(ptr, val, *a, **k):
            self.check("store", ptr, None)
            ones = type(ptr)(np.ones_like(ptr.data, dtype=bool), tl.int1)
            return cls.create_masked_store(builder, ptr, val, ones, *a, **k)

        def create_masked_store(ptrs, val, mask, *a, **k):
            self.check("store", ptrs, mask)
            return cls.create_masked_store(builder, ptrs, val, mask, *a, **k)

        def create_atomic_rmw(op, ptr, val, mask, *a, **k):
            self.check("atomic", ptr, mask)
            return cls.create_atomic_rmw(builder, op, ptr, val, mask, *a, **k)

        def create_atomic_cas(ptr, cmp, val, *a, **k):
            self.check("atomic", ptr, None)
            return cls.create_atomic_cas(builder, ptr, cmp, val, *a, **k)

        def create_dot(a_, b_, *rest, **k):
            bad = [i for i, h in enumerate((a_, b_)) if h.get_element_ty() == tl.bfloat16]
            if bad:
                raise runtime.bf16_dot_error(f"tl.dot in {self.kernel}", bad)
            return cls.create_dot(builder, a_, b_, *rest, **k)

        def shaping(name: str, pos: int):
            orig = getattr(cls, name)

            def method(*a, **k):
                out = orig(builder, *a, **k)
                src = a[pos] if len(a) > pos else None
                if name == "create_select" and self.provenance(src) is None and len(a) > 2:
                    src = a[2]
                arg = self.provenance(src)
                if arg is not None and hasattr(out, "attr"):
                    out.attr[_ATTR] = arg
                return out
            return method

        out = {"create_load": create_load, "create_masked_load": create_masked_load, "create_store": create_store,
               "create_masked_store": create_masked_store, "create_atomic_rmw": create_atomic_rmw,
               "create_atomic_cas": create_atomic_cas, "create_dot": create_dot}
        out.update({name: shaping(name, pos) for name, pos in _SHAPING.items()})
        return out


def _poison(ptrs):
    """What a masked-off lane of a load without `other=` reads in a checked launch: NaN for a floating-point
    element type (Triton leaves those lanes undefined; the plain interpreter reads 0, which hides a missing
    ``other=0.0`` in a K loop), None (the interpreter's zeros) for integers. The interpreter holds bf16 and FP8
    as unsigned integers: their NaN is a bit pattern (E5M2 0x7E; E4M3FN has one NaN, 0x7F)."""
    from triton.runtime import interpreter as ti

    tt = ptrs.get_element_ty()
    dtype = ti._get_np_dtype(tt)
    if np.issubdtype(dtype, np.floating):
        nan = np.nan
    else:
        nan = 0x7FC0 if tt.is_bf16() else 0x7F if tt.is_fp8e4nv() else 0x7E if tt.is_fp8e5() else None
        if nan is None:
            return None
    return ti.TensorHandle(np.full(ptrs.data.shape, nan, dtype=dtype), tt)


def _row_spill(arg: _Arg, coords, act: np.ndarray) -> tuple[str, str] | None:
    """For a 2-D block of a row-major tensor whose active rows run past its last row: (rows, columns) spans of
    the other reading of the same addresses, with every row in range and the columns past the end (an index
    along K or N too large by whole rows decodes as the next rows). None when that reading does not exist."""
    if len(arg.shape) != 2 or arg.strides != (arg.shape[1], 1) or arg.shape[1] == 0:
        return None
    rows, cols = (np.asarray(c)[act] for c in coords)
    k = int(rows.max()) - (arg.shape[0] - 1)          # the fewest whole rows that bring every row in range
    # offered only when the other reading starts at the end of a row (an index along K or N that runs on past
    # the row, as offs_k or offs_n past the edge do); a block that runs past the last row decodes the same way
    # with many whole rows and columns far past the end, a reading that would mislead
    if k < 1 or int(rows.min()) - k < 0 or int(cols.min()) + k * arg.shape[1] > arg.shape[1]:
        return None
    alt_cols = cols + k * arg.shape[1]
    return _span(rows - k), _span(alt_cols[alt_cols >= arg.shape[1]])


def _named_tensors(kernel, args: Sequence, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Argument name -> tensor for the tensor arguments of a launch (a TensorWrapper counts by its base)."""
    import torch

    names = list(kernel.arg_names)
    named = dict(zip(names, args, strict=False)) | {k: v for k, v in kwargs.items() if k in names}
    out = {}
    for name, v in named.items():
        t = v if isinstance(v, torch.Tensor) else getattr(v, "base", None)
        if isinstance(t, torch.Tensor):
            out[name] = t
    return out


@contextlib.contextmanager
def memory_checks(tensors: Mapping[str, Any], kernel: str = "kernel",
                  grid: Sequence[int] = ()) -> Iterator[LaunchReport]:
    """Check every interpreted load/store inside the block against `tensors` (name -> CPU tensor); yields the report.

    Only under the interpreter; elsewhere the report says `checked=False` and nothing is patched. Restores the
    interpreter's builder on exit, also when the block raises.
    """
    import torch

    report = LaunchReport(kernel, tuple(int(g) for g in grid), checked=runtime.interpreter_active())
    for name, t in tensors.items():
        if isinstance(t, torch.Tensor):
            report.written[name] = np.zeros(tuple(t.shape), dtype=bool)
    if not report.checked:
        yield report
        return
    from triton.runtime import interpreter as interp

    args = [_Arg.of(n, t) for n, t in tensors.items() if isinstance(t, torch.Tensor)]
    if any(isinstance(t, torch.Tensor) and t.device.type != "cpu" for t in tensors.values()):
        report.checked = False          # the interpreter copies device tensors to new host memory: cannot map them
        yield report
        return
    for a in args:
        report.written[a.name] = a.written
    builder = interp.interpreter_builder
    saved = {n: builder.__dict__[n] for n in _PATCHED if n in builder.__dict__}
    builder.__dict__.update(_Checker(kernel, args, report).methods(builder))
    device_call = getattr(interp, "InterpretedFunction", type).__dict__.get("__call__")   # None: another Triton
    if device_call is not None:
        interp.InterpretedFunction.__call__ = _flat_errors(device_call, interp.InterpreterError)
    t0 = time.perf_counter()
    try:
        yield report
    finally:
        report.seconds = time.perf_counter() - t0
        if device_call is not None:
            interp.InterpretedFunction.__call__ = device_call
        for n in _PATCHED:
            builder.__dict__.pop(n, None)
        builder.__dict__.update(saved)


def _flat_errors(device_call, interpreter_error: type):
    """A @triton.jit helper's call that lets an error from a nested helper through as it is: Triton's interpreter
    wraps it again at every level (InterpreterError(repr(e))), and the text doubles with each, so a helper that
    calls itself filled gigabytes before the recursion limit (the kernel died)."""
    def call(self, *args, **kwargs):
        try:
            return device_call(self, *args, **kwargs)
        except interpreter_error as e:
            inner = e.__cause__
            if isinstance(inner, interpreter_error):
                raise inner.with_traceback(None) from inner.__cause__
            raise
    return call


def _cause(e: BaseException, types: tuple[type, ...]) -> BaseException | None:
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, types):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def _check_grid(grid) -> tuple[int, ...]:
    """`grid` (an int or 1 to 3 of them) as a tuple of ints >= 0; ValueError/TypeError naming a bad entry (a float
    would be truncated, a string parsed: both launch another grid than the one meant)."""
    entries = tuple(grid) if isinstance(grid, tuple | list) else (grid,)
    if not 1 <= len(entries) <= 3:
        raise ValueError(f"safe_launch: grid must have 1 to 3 entries (programs along x, y, z), got {grid!r}")
    for g in entries:
        if isinstance(g, bool) or not isinstance(g, numbers.Integral):
            hint = " (a number typed as text: drop the quotes)" if isinstance(g, str) else \
                " (a float: use triton.cdiv(M, BLOCK_M), or // instead of /)" if isinstance(g, float) else ""
            raise TypeError(f"safe_launch: grid entries must be ints, got {g!r} ({type(g).__name__}) in grid "
                            f"{grid!r}{hint}")
        if g < 0:
            raise ValueError(f"safe_launch: grid entries must be >= 0, got {g} in grid {grid!r}")
    return tuple(int(g) for g in entries)


def safe_launch(kernel, grid, *args, **kwargs) -> LaunchReport:
    """`kernel[grid](*args, **kwargs)` with every load and store checked first (interpreter); a `LaunchReport`.

    Raises `OutOfBoundsAccess` (an access outside the tensor its pointer came from, before it happens),
    `runtime.InterpreterBugError` (bf16 operands reaching `tl.dot` in the interpreter, triton issue 11584: use
    fp16 or fp32 on the CPU) and the kernel's own NotImplementedError (an unsolved exercise) unwrapped from
    Triton's InterpreterError. On a GPU it is a plain launch (`report.checked` is False).
    """
    if not hasattr(kernel, "__getitem__") or not hasattr(kernel, "arg_names"):
        raise TypeError(f"safe_launch takes a @triton.jit kernel, got {type(kernel).__name__}")
    if callable(grid):
        raise TypeError("safe_launch takes a grid tuple, not a function of the meta-parameters")
    grid = _check_grid(grid)
    name = getattr(kernel, "__name__", None) or getattr(getattr(kernel, "fn", None), "__name__", "kernel")
    if not runtime.interpreter_active():
        try:
            kernel[grid](*args, **kwargs)
        except Exception as e:   # an unsolved exercise fails to compile: say so as the stub does
            if "NotImplementedError" in repr(e):
                raise NotImplementedError(str(e)) from None
            raise
        return LaunchReport(name, grid, checked=False)
    tensors = _named_tensors(kernel, args, kwargs)
    try:
        with memory_checks(tensors, name, grid) as report:
            kernel[grid](*args, **kwargs)
    except Exception as e:
        inner = _cause(e, (OutOfBoundsAccess, runtime.InterpreterBugError))
        if inner is not None and inner is not e:
            raise inner.with_traceback(None) from None
        stub = _cause(e, (NotImplementedError,))
        if stub is not None and stub is not e:
            raise NotImplementedError(str(stub)) from None
        raise
    return report


def overhead(kernel, grid, *args, repeats: int = 3, **kwargs) -> dict[str, float]:
    """Seconds per launch plain and checked (best of `repeats`, interpreter) and their ratio: the checks' cost.

    One checked launch comes first: a kernel that reaches out of bounds raises `OutOfBoundsAccess` there, before
    any plain launch could write past a tensor (and take the process down)."""
    safe_launch(kernel, grid, *args, **kwargs)
    plain, checked = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        kernel[tuple(grid)](*args, **kwargs)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        safe_launch(kernel, grid, *args, **kwargs)
        checked.append(time.perf_counter() - t0)
    return {"plain_s": min(plain), "checked_s": min(checked), "ratio": min(checked) / min(plain)}
