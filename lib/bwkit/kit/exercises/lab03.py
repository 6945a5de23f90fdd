"""Exercises of lab 03 (the Triton GEMM ladder): what each check reads, the inputs it tries, the mistakes it names.

The two kernel exercises (03.1, 03.3) launch the learner's `@triton.jit` kernel on fresh operands and a
NaN-poisoned C through `bwkit.gemm.launch_report`, i.e. the memory-safe `bwkit.kit.interp.safe_launch`: a load or
store outside A, B or C raises `OutOfBoundsAccess` (with coordinates) instead of killing the kernel, and a part
of C no program stored raises `UnwrittenOutput`. The probe adds what the access says about the kernel (a
missing K-tail mask, swapped strides, ...) so that the mistakes can be named by behaviour.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import torch

from bwkit import gemm
from bwkit.kit import interp, runtime
from bwkit.kit.checks import as_int, compare, describe_value, not_an_int
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.models import one_too_many, waves
from bwkit.kit.exercises.spec import BadAnswer, Case, Exercise, Function, Mistake, wrong_unit

SMEM_PER_BLOCK = 227 * 1024     # CUDA C++ Programming Guide, compute capability 9.0 / 10.0: max per block
KERNEL_SIGNATURE = ("(a_ptr, b_ptr, c_ptr, M, N, K, stride_am, stride_ak, stride_bk, stride_bn, stride_cm, "
                    "stride_cn, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr)")


# ------------------------------------------------------------------------------------------------------------
# 03.1 / 03.3: kernels, launched memory-safe on a poisoned output
# ------------------------------------------------------------------------------------------------------------
def _operands(M: int, N: int, K: int, seed: int, device: str = "cpu", layout: str = "n") -> tuple[torch.Tensor,
                                                                                                  torch.Tensor]:
    """Fresh fp16 A (M, K) and B (K, N); `layout` "t": both are transposed views of contiguous tensors (A with
    strides (1, M), B with (1, K)), so that only a kernel that uses its stride arguments reads them right."""
    gen = torch.Generator().manual_seed(seed)
    if layout == "t":
        a = torch.randn((K, M), generator=gen).to(device=device, dtype=torch.float16).t()
        b = torch.randn((N, K), generator=gen).to(device=device, dtype=torch.float16).t()
        return a, b
    return gemm.random_operands(M, N, K, "fp16", device, gen)


def _row_major(x: torch.Tensor) -> torch.Tensor:
    """What a kernel with hard-coded row-major strides (`offs_m * K + offs_k`) reads from `x`'s memory."""
    return torch.as_strided(x, x.shape, (x.shape[1], 1))


def _what_it_means(d: dict, naive: bool, c_row_stride: int | None = None) -> str:
    """What an out-of-bounds access says about a GEMM kernel (the clause the mistakes below match).

    The naive kernel has no masks by design (its shapes are whole tiles), so an access past an M or N edge there
    means the tile offsets are wrong, not that a mask is missing. `c_row_stride`: C's row stride when C is N
    columns of a wider buffer; a store that lands only in the columns between N and that stride ignores
    stride_cm (it steps rows by N, as in a contiguous C).
    """
    t, op, axes = d.get("tensor"), d.get("op"), d.get("out_axes") or []
    cols = d.get("cols")
    if (c_row_stride is not None and op == "store" and t == "C" and axes == [1] and cols
            and cols[1] < c_row_stride and not d.get("transposed")):
        return (f"C's rows are {c_row_stride} elements apart here, not N: the store ignores stride_cm (rows "
                "stepped by N?)")
    if d.get("transposed"):
        return ("C is walked transposed: the store puts offs_m on C's columns" if op == "store" else
                f"{t} is walked transposed: its two strides are swapped")
    if naive:
        return "the tile offsets (offs_m, offs_n or offs_k) run past the blocks the grid covers"
    if op == "store":
        return "the store has no mask" if d.get("mask") == "missing" else \
            "the store mask does not cover C's ragged edge"
    k_axis = {"A": 1, "B": 0}.get(t)
    if k_axis in axes:
        return f"the K tail of {t} is not masked"
    return f"the {'M' if t == 'A' else 'N'} edge of {t} is not masked"


def _kernel_probe(name: str, naive: bool = False):
    """A probe launching kernel `name` on the case's fresh fp16 operands; returns C as float32."""
    def probe(answers, case):
        M, N, K, BM, BN, BK, seed = case.args
        kernel = answers[name]
        if not hasattr(kernel, "arg_names") or not hasattr(kernel, "__getitem__"):
            raise TypeError(f"`{name}` must be a @triton.jit kernel (decorate the def with @triton.jit), got "
                            f"{type(kernel).__name__}")
        if not runtime.interpreter_active() and not torch.cuda.is_available():
            raise BadAnswer("Triton runs without its interpreter and this machine has no CUDA GPU: bwkit.setup() "
                            "did not run before `import triton`. Restart the kernel and run the notebook from its "
                            "first cell (import bwkit; bwkit.setup()), then this kernel's cell and the check")
        a, b = _operands(M, N, K, seed, "cpu" if runtime.interpreter_active() else "cuda", **case.kwargs)
        grid = (math.ceil(M / BM), math.ceil(N / BN))
        out = None
        if case.kwargs.get("layout") == "t":        # C too is not contiguous: N columns of a wider buffer
            out = torch.empty(M, N + 16, dtype=torch.float16, device=a.device)[:, :N]
        try:
            c, report = gemm.launch_report(kernel, a, b, grid, BLOCK_M=BM, BLOCK_N=BN, BLOCK_K=BK, out=out)
        except interp.OutOfBoundsAccess as e:
            why = _what_it_means(e.details, naive, None if out is None else out.stride(0))
            raise interp.OutOfBoundsAccess(f"{e} [{why}]", e.details) from None
        try:
            report.require_written("c_ptr", tile=(BM, BN))
        except interp.UnwrittenOutput as e:
            walked = [t for op, arg, t in (("store", "c_ptr", "C"), ("load", "a_ptr", "A"), ("load", "b_ptr", "B"))
                      if (op, arg) in report.transposed]
            why = f"{walked[0]} is walked transposed" if walked else \
                "the tile offsets or the store mask miss part of C"
            raise interp.UnwrittenOutput(f"{e} [{why}]", e.details) from None
        return c.float().cpu()
    return probe


def _ref(M, N, K, BM, BN, BK, seed, layout="n"):
    a, b = _operands(M, N, K, seed, layout=layout)
    return gemm.reference_matmul(a, b)


def _floor_trips(M, N, K, BM, BN, BK, seed):
    a, b = _operands(M, N, K, seed)
    k0 = K // BK * BK
    return gemm.reference_matmul(a[:, :k0], b[:k0])


def _first_slice_repeated(M, N, K, BM, BN, BK, seed):
    a, b = _operands(M, N, K, seed)
    trips = -(-K // BK)
    return trips * gemm.reference_matmul(a[:, :min(BK, K)], b[:min(BK, K)])


def _first_slice_shrinking(M, N, K, BM, BN, BK, seed):
    a, b = _operands(M, N, K, seed)
    return sum(gemm.reference_matmul(a[:, :min(BK, K - k)], b[:min(BK, K - k)]) for k in range(0, K, BK))


def _slices(a, b, starts, BK):
    """The sum of the K slices [k, k + BK) (clipped at K, as the masks clip them) that start at `starts`."""
    K = a.shape[1]
    return sum(gemm.reference_matmul(a[:, k:min(k + BK, K)], b[k:min(k + BK, K)]) for k in starts if k < K)


def _step_one(M, N, K, BM, BN, BK, seed):
    """`kk = k0 + offs_k` with k0 counting trips (0, 1, 2, ...): the slices start 1 apart and overlap."""
    a, b = _operands(M, N, K, seed)
    return _slices(a, b, range(-(-K // BK)), BK)


def _offset_times_block(M, N, K, BM, BN, BK, seed):
    """`for k0 in range(0, K, BLOCK_K)` with `kk = k0 * BLOCK_K + offs_k`: k0 is already an offset, so the slices
    start at 0, BK², 2·BK², ...: only those below K (usually the first) are counted."""
    a, b = _operands(M, N, K, seed)
    return _slices(a, b, [k0 * BK for k0 in range(0, K, BK)], BK)


def _last_slice_only(M, N, K, BM, BN, BK, seed):
    """`acc = tl.dot(a, b)` each trip (the accumulator overwritten): only the last K slice survives."""
    a, b = _operands(M, N, K, seed)
    k_last = (-(-K // BK) - 1) * BK
    return gemm.reference_matmul(a[:, k_last:], b[k_last:])


def _like(got, model) -> bool | None:
    """True when `got` matches the wrong answer `model` (None: the model does not apply to this shape)."""
    if model is None:
        return None
    if not isinstance(got, torch.Tensor):      # the kernel raised (an AnswerError): not a wrong value
        return False
    got = got.to(torch.float64)
    return got.shape == model.shape and bool(torch.allclose(got, model, atol=_TOL_KLOOP[0], rtol=_TOL_KLOOP[1]))


def _differs(model, want) -> bool:
    return model.shape != want.shape or not torch.allclose(model, want, atol=_TOL_KLOOP[0], rtol=_TOL_KLOOP[1])


def _wrong_value(model_fn):
    """A `when` predicate for a wrong-value model: None on inputs where it equals the truth (it cannot tell)."""
    def when(got, want, *args):
        model = model_fn(*args)
        return _like(got, model) if _differs(model, want) else None
    return when


def _swapped_b(got, want, M, N, K, BM, BN, BK, seed, layout="n"):
    a, b = _operands(M, N, K, seed, layout=layout)
    return _like(got, gemm.reference_matmul(a, b.T) if K == N else None)


def _swapped_a(got, want, M, N, K, BM, BN, BK, seed, layout="n"):
    a, b = _operands(M, N, K, seed, layout=layout)
    return _like(got, gemm.reference_matmul(a.T, b) if M == K else None)


def _transposed_c(got, want, M, N, K, BM, BN, BK, seed, layout="n"):
    return _like(got, want.T if M == N else None)


def _nan_from_loads(got, want, *case, layout="n"):
    """NaN in a C the kernel stored (an unstored tile raises instead): masked-off lanes read without other=."""
    return isinstance(got, torch.Tensor) and bool(torch.isnan(got).any()) and not bool(torch.isnan(want).any())


def _hard_coded_strides(got, want, M, N, K, BM, BN, BK, seed, layout="n"):
    """`offs_m * K + offs_k` / `offs_k * N + offs_n` instead of the strides: right only on contiguous operands,
    so it can tell only on the case whose A and B are transposed views (A, B or both read as row-major)."""
    a, b = _operands(M, N, K, seed, layout=layout)
    ref = gemm.reference_matmul
    models = [m for m in (ref(_row_major(a), b), ref(a, _row_major(b)), ref(_row_major(a), _row_major(b)))
              if _differs(m, want)]
    return any(_like(got, m) for m in models) if models else None


_TOL_NAIVE = gemm.gemm_tolerance("fp16", 256)
_TOL_KLOOP = gemm.gemm_tolerance("fp16", 128)
_LAYOUTS = [   # (diagnosis, `when` its product comes back, the clause of the access report when it raises)
    ("you swapped B's strides (offs_k with stride_bn, offs_n with stride_bk): the kernel reads Bᵀ", _swapped_b,
     "B is walked transposed"),
    ("you swapped A's strides (offs_m with stride_ak, offs_k with stride_am): the kernel reads Aᵀ", _swapped_a,
     "A is walked transposed"),
    ("you stored the tile transposed: offs_m goes with stride_cm (rows of C), offs_n with stride_cn", _transposed_c,
     "C is walked transposed"),
]
_LAYOUT_MISTAKES = ([Mistake(why, when=when) for why, when, _ in _LAYOUTS]
                    + [Mistake(why, error=error) for why, _, error in _LAYOUTS])


def _naive_cases(rng: random.Random) -> list[Case]:
    """The notebook's two shapes (2 x 2 tiles each), a random one whose grid is never square (pid_m and pid_n
    from the wrong axes must fail), and a non-square grid on transposed A and B views (hard-coded strides fail)."""
    bm, bn = rng.choice([16, 32]), rng.choice([16, 32])
    k = rng.choice([16, 32, 64])
    tm, tn = rng.sample([1, 2, 3], 2)
    return [Case((64, 64, 64, 32, 32, 64, 1), "M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, seed: the notebook's 64x64x64"),
            Case((32, 64, 16, 16, 32, 16, 2), "32x64x16: not square"),
            Case((bm * tm, bn * tn, k, bm, bn, k, rng.randrange(2**31)), f"a random shape: {tm}x{tn} tiles"),
            Case((48, 32, 16, 16, 16, 16, 5), "48x32x16, 3x2 tiles; A and B are transposed views (strides (1, M) "
                 "and (1, K)), C the first 32 columns of a 48 x 48 buffer: use the stride arguments",
                 kwargs={"layout": "t"},
                 text="my_matmul_kernel_naive on 48x32x16, 16x16 tiles (A and B transposed views, C strided)")]


def _kloop_cases(rng: random.Random) -> list[Case]:
    bk = rng.choice([16, 32])
    k = rng.randrange(17, 90)
    k += 1 if k % bk == 0 else 0
    return [Case((37, 53, 45, 32, 32, 16, 3), "M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, seed: the notebook's 37x53x45"),
            Case((64, 32, 128, 32, 32, 32, 4), "64x32x128: no ragged edge"),
            Case((rng.randrange(17, 70), rng.randrange(17, 70), k, rng.choice([16, 32]), rng.choice([16, 32]), bk,
                  rng.randrange(2**31)), "a random ragged shape"),
            Case((rng.randrange(17, 25), rng.randrange(17, 25), 16 * rng.randrange(60, 68) + rng.randrange(1, 16),
                  16, 16, 16, rng.randrange(2**31)), "a long K (over 60 trips): rounding that piles up shows")]


def _low_precision_acc(got, want, M, N, K, BM, BN, BK, seed, layout="n"):
    """Right to about 1e-3 of |C| only, on a long K: each trip rounded the sum to fp16 (an fp16 accumulator, or
    each tl.dot cast before the add). A right fp32 accumulator is off by C's own fp16 rounding (~2e-4 of the
    largest |C|); the other mistakes are off by far more. None on short K, where the two cannot be told apart."""
    if K < 512 or not isinstance(got, torch.Tensor) or got.shape != want.shape or torch.isnan(got).any():
        return None
    rel = float((got.double() - want).abs().max()) / max(float(want.abs().max()), 1e-30)
    return 4e-4 < rel < 2e-2


register(
    Exercise.single(
        "03.1", "naive kernel",
        reads=Function("my_matmul_kernel_naive", KERNEL_SIGNATURE),
        cases=_naive_cases, probe=_kernel_probe("my_matmul_kernel_naive", naive=True), expected=_ref,
        atol=_TOL_NAIVE[0], rtol=_TOL_NAIVE[1],
        mistakes=_LAYOUT_MISTAKES + [
            Mistake("you hard-coded row-major strides (offs_m * K + offs_k, offs_k * N + offs_n): right only for "
                    "contiguous operands; address A with stride_am / stride_ak, B with stride_bk / stride_bn and C "
                    "with stride_cm / stride_cn (here A and B are transposed views)", when=_hard_coded_strides),
            Mistake("you hard-coded row-major strides for C (offs_m * N + offs_n): right only for a contiguous C; "
                    "store with stride_cm / stride_cn (here C is N columns of a wider buffer; use the stride "
                    "arguments for A and B too)", error="the store ignores stride_cm"),
            Mistake("your tiles are not where the grid puts them (part of C never stored, or a block past the "
                    "matrix): pid_m = program_id(0) with BLOCK_M rows, pid_n = program_id(1) with BLOCK_N columns, "
                    "and offs_k = tl.arange(0, BLOCK_K) with no program offset (one K block: BLOCK_K = K)",
                    error="tile offsets"),
        ],
        hint="A's block is offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak; B's is "
             "offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn; C's uses stride_cm and stride_cn."),

    Exercise.single(
        "03.3", "K loop with masks",
        reads=Function("my_matmul_kernel_kloop", KERNEL_SIGNATURE),
        cases=_kloop_cases, probe=_kernel_probe("my_matmul_kernel_kloop"), expected=_ref,
        atol=_TOL_KLOOP[0], rtol=_TOL_KLOOP[1],
        mistakes=[
            Mistake("your loop runs K // BLOCK_K times (floor): the last, partial K slice is missing; use "
                    "(K + BLOCK_K - 1) // BLOCK_K trips and mask the tail", when=_wrong_value(_floor_trips)),
            Mistake("the K index does not advance: every iteration multiplies the first K slice again (use "
                    "kk = k0 * BLOCK_K + offs_k, or move the pointers by BLOCK_K each trip)",
                    when=_wrong_value(_first_slice_repeated)),
            Mistake("the K index does not advance: every iteration multiplies the first K slice again (use "
                    "kk = k0 * BLOCK_K + offs_k, or move the pointers by BLOCK_K each trip)",
                    when=_wrong_value(_first_slice_shrinking)),
            Mistake("the K slices overlap: kk = k0 + offs_k moves 1 element per trip; with k0 counting trips "
                    "(range(cdiv(K, BLOCK_K))) the slice starts at kk = k0 * BLOCK_K + offs_k",
                    when=_wrong_value(_step_one)),
            Mistake("only the first K slice is counted: with `for k0 in range(0, K, BLOCK_K)` k0 is already the "
                    "element offset, so k0 * BLOCK_K jumps past K; use kk = k0 + offs_k there (or loop over "
                    "range(cdiv(K, BLOCK_K)) with k0 * BLOCK_K)", when=_wrong_value(_offset_times_block)),
            Mistake("a load without other=0.0: Triton leaves the masked-off lanes undefined (the check fills them "
                    "with NaN, a GPU may hold garbage there), so the ragged K slice poisons the dot; load with "
                    "mask=..., other=0.0", when=_nan_from_loads),
            Mistake("only the last K slice survived: pass acc to tl.dot (acc = tl.dot(a, b, acc)) or write acc += "
                    "tl.dot(a, b): each trip must add to the accumulator, not replace it",
                    when=_wrong_value(_last_slice_only)),
            Mistake("your store has no mask: rows or columns of the last tiles lie outside C; store with "
                    "mask=(offs_m[:, None] < M) & (offs_n[None, :] < N)", error="the store has no mask"),

            Mistake("your loads do not mask the K tail: the last slice reads past column K-1 of A / row K-1 of B; "
                    "add (kk[None, :] < K) to A's mask and (kk[:, None] < K) to B's", error="K tail"),
            Mistake("a load is not masked at the M or N edge: A's mask needs offs_m[:, None] < M and B's "
                    "offs_n[None, :] < N", error="edge of"),
            Mistake("your store mask does not match C's edges (too loose: it writes outside C; too strict: part of "
                    "C is never stored): use (offs_m[:, None] < M) & (offs_n[None, :] < N), with pid_m / pid_n from "
                    "program_id(0) / program_id(1)", error="store mask"),
            Mistake("the sum was rounded to fp16 on every trip (an fp16 accumulator, or tl.dot(...) cast to fp16 "
                    "before the add): keep acc in float32 (tl.zeros(..., dtype=tl.float32)) and cast to C's dtype "
                    "only at the store; over a long K the roundings pile up", when=_low_precision_acc),
        ] + _LAYOUT_MISTAKES,
        hint="kk = k0 * BLOCK_K + offs_k; A's mask (offs_m[:, None] < M) & (kk[None, :] < K), B's "
             "(kk[:, None] < K) & (offs_n[None, :] < N), other=0.0; the store needs the M and N mask."),
)


# ------------------------------------------------------------------------------------------------------------
# Counting exercises
# ------------------------------------------------------------------------------------------------------------
def _naive_bytes(bm, bn, k, eb):
    return (bm * k + k * bn) * eb


def _tiles(M, N, bm, bn):
    return (M // bm) * (N // bn)


def _tile_read(M, N, K, bm, bn, eb):
    return _tiles(M, N, bm, bn) * (bm * K + K * bn) * eb


def _elements_not_bytes(reference):
    """The count of elements instead of bytes: `reference` with its last input, the element size, set to 1."""
    return Mistake("you forgot the element size (counted elements, not bytes)",
                   value=lambda *a: reference(*a[:-1], 1))


def _stages(bm, bn, bk, eb, smem):
    return smem // ((bm + bn) * bk * eb)


def _eff(M, N, bm, bn, s):
    return waves(M, N, bm, bn, s)[2]


def _grid_case(m: int, n: int, g: int, label: str) -> Case:
    return Case((m, n, g), label, text=f"my_grouped_pid(tile_id, {m}, {n}, {g}) for tile_id in range({m * n})")


def _random_grid(rng: random.Random) -> Case:
    """A random grid at least as tall as it is wide (like the notebook's), with a short last group."""
    m = rng.randint(5, 13)
    return _grid_case(m, rng.randint(3, min(9, m)), rng.choice([2, 3, 4, 5]), "a random grid")


def _order_cases(rng: random.Random) -> list[Case]:
    return [_grid_case(8, 6, 4, "8x6 tiles, GROUP_M=4"),
            _grid_case(7, 5, 3, "7x5 tiles, GROUP_M=3: a last group of 1 row"),
            # a last group of 3 rows whose first tile, 4 * 5 = 20, is no multiple of 3: tile_id % rows is wrong
            _grid_case(7, 5, 4, "7x5 tiles, GROUP_M=4: a last group of 3 rows"),
            _random_grid(rng)]


def _pid_pair(got: Any, call: str) -> tuple:
    """One answer of `my_grouped_pid` as a tuple of ints, or `BadAnswer` saying why it is none (None, a dict,
    a str, 0.25 from `/`): the check's own conversion must not take 0.25 for 0, nor blame the learner's code."""
    if got is None:
        raise BadAnswer(f"{call} returned None: is a `return` missing?")
    if isinstance(got, (str, bytes, Mapping, set, frozenset)) or not hasattr(got, "__iter__") or \
            getattr(got, "shape", (1,)) == ():
        raise BadAnswer(f"{call} returned {describe_value(got, 40)}, expected a (pid_m, pid_n) tuple of ints")
    items = tuple(got)
    out = []
    for name, v in zip(("pid_m", "pid_n", "item 2", "item 3"), items, strict=False):
        n = as_int(v)
        if n is None:
            raise BadAnswer(f"{call} returned {name} = {not_an_int(v)}: expected an int")
        out.append(n)
    return tuple(out) + tuple(items[len(out):])


def _order_probe(answers, case):
    fn = answers["my_grouped_pid"]
    num_pid_m, num_pid_n, group = case.args
    return {"grid": [num_pid_m, num_pid_n, group],
            "order": [_pid_pair(fn(t, num_pid_m, num_pid_n, group), f"my_grouped_pid({t}, {num_pid_m}, "
                                f"{num_pid_n}, {group})") for t in range(num_pid_m * num_pid_n)]}


def _orders(f):
    """The check's form of a tile order (the grid with the list of (pid_m, pid_n)) from `f(m, n, g)`."""
    def value(num_pid_m, num_pid_n, g):
        return {"grid": [num_pid_m, num_pid_n, g], "order": [tuple(p) for p in f(num_pid_m, num_pid_n, g)]}
    return value


def _compare_orders(got, want) -> tuple[bool, list[str]]:
    """Equal orders, or the first wrong tile as a call: `my_grouped_pid(t, m, n, g) returned .., expected ..`."""
    if not isinstance(got, Mapping) or "order" not in got:
        return compare(got, want)
    g, w = list(got["order"]), list(want["order"])
    num_pid_m, num_pid_n, group = want["grid"]
    bad = [(t, a, b) for t, (a, b) in enumerate(zip(g, w, strict=False)) if tuple(a) != tuple(b)]
    if len(g) != len(w):
        return False, [f"returned {len(g)} tiles, expected {len(w)}"]
    if not bad:
        return True, []
    t, a, b = bad[0]
    return False, [f"my_grouped_pid({t}, {num_pid_m}, {num_pid_n}, {group}) returned {tuple(a)}, expected "
                   f"{tuple(b)} ({len(bad)} of {len(w)} tiles wrong)"]


def _tutorial_mod(num_pid_m, num_pid_n, g):
    """`first_m + tile_id % rows`: the position in the group is taken from the tile id itself, without
    `% (GROUP_M * num_pid_n)` (right when the last group is full, or when its height divides its first tile id)."""
    out = []
    for t in range(num_pid_m * num_pid_n):
        first = t // (g * num_pid_n) * g
        rows = min(num_pid_m - first, g)
        out.append((first + t % rows, t % (g * num_pid_n) // rows))
    return out


def _no_short_group(num_pid_m, num_pid_n, g):
    out = []
    for t in range(num_pid_m * num_pid_n):
        first = t // (g * num_pid_n) * g
        out.append((first + t % (g * num_pid_n) % g, t % (g * num_pid_n) // g))
    return out


def _group_of_m(num_pid_m, num_pid_n, g):
    """The grouped order computed with GROUP_M * num_pid_m tiles per group (the wrong grid side)."""
    out = []
    for t in range(num_pid_m * num_pid_n):
        per = g * num_pid_m
        first = t // per * g
        rows = min(num_pid_m - first, g)
        out.append((first + t % per % rows, t % per // rows))
    return out


def _wave_cases(rng: random.Random) -> list[Case]:
    """The notebook's two orders (their waves span more column-tiles than row-tiles) and a random grid whose
    first wave spans more row-tiles than column-tiles: so that counting one kind only, or the union of the two
    sets (which is the larger count when both start at tile 0), cannot pass or be taken for one another."""
    for _ in range(500):
        tm, tn = rng.randint(6, 40), rng.randint(6, 40)
        sms = rng.randint(20, 150)
        g = rng.choice([None, 4, 8])
        pids = gemm.tile_order(tm, tn, g)
        rows, cols = _rows_cols(pids, sms)
        if rows > cols:
            break
    else:                       # never in practice (about 1 draw in 7 qualifies)
        pids, sms = gemm.tile_order(30, 4), 40
    return [Case((gemm.tile_order(64, 64), 132), "row-major, 64x64 tiles, 132 SMs"),
            Case((gemm.tile_order(64, 64, 8), 132), "grouped by 8, 64x64 tiles, 132 SMs"),
            Case((pids, sms), "a random grid and SM count")]


def _strips(pids, s):
    wave = pids[:s]
    return len({m for m, _ in wave}) + len({n for _, n in wave})


def _rows_cols(pids, s) -> tuple[int, int]:
    return len({m for m, _ in pids[:s]}), len({n for _, n in pids[:s]})


register(
    Exercise.single(
        "03.2", "naive bytes per program",
        reads=Function("naive_operand_bytes", "(BLOCK_M: int, BLOCK_N: int, K: int, elem_bytes: int) -> int", "bytes"),
        cases=lambda rng: [Case((128, 256, 4096, 2), "128x256, K=4096, fp16"), Case((32, 32, 256, 2), "32x32, K=256"),
                           # never 2-byte elements: an answer with the 2 hard-coded must fail here
                           Case((rng.choice([64, 128, 256]), rng.choice([64, 128, 256]), rng.randrange(256, 16384),
                                 rng.choice([1, 4])), "a random tile, 1- or 4-byte elements")],
        expected=_naive_bytes, rtol=0,
        mistakes=[
            _elements_not_bytes(_naive_bytes),
            Mistake("you hard-coded 2 bytes per element (fp16): multiply by elem_bytes, the element size passed in",
                    value=lambda bm, bn, k, eb: (bm * k + k * bn) * 2),
            Mistake("you counted only A's strip (BLOCK_M x K); B's K x BLOCK_N strip is loaded too",
                    value=lambda bm, bn, k, eb: bm * k * eb),
            Mistake("you counted only B's strip (K x BLOCK_N); A's BLOCK_M x K strip is loaded too",
                    value=lambda bm, bn, k, eb: k * bn * eb),
            Mistake("you counted the C tile (BLOCK_M x BLOCK_N), not the operand strips",
                    value=lambda bm, bn, k, eb: bm * bn * eb),
            wrong_unit("bits", "bytes", 8),
            wrong_unit("MiB", "bytes (no / 2**20)", 2**-20),
            wrong_unit("KiB", "bytes (no / 1024)", 2**-10),
            Mistake("that is in MB (/ 10**6): the answer is in bytes",
                    value=lambda bm, bn, k, eb: _naive_bytes(bm, bn, k, eb) / 1e6),
            Mistake("that is in kB (/ 1000): the answer is in bytes",
                    value=lambda bm, bn, k, eb: _naive_bytes(bm, bn, k, eb) / 1000),
        ],
        hint="A strip is BLOCK_M x K elements, a B strip K x BLOCK_N; multiply by the element size."),

    Exercise.single(
        "03.4", "bytes read by the tiles",
        reads=Function("tile_read_bytes",
                       "(M: int, N: int, K: int, BLOCK_M: int, BLOCK_N: int, elem_bytes: int) -> int", "bytes"),
        cases=lambda rng: [Case((4096, 4096, 4096, 128, 128, 2), "4096³, 128x128"),
                           Case((8192, 2048, 1024, 128, 256, 1), "8192x2048x1024, 128x256, 1-byte"),
                           Case((128 * rng.randint(1, 40), 256 * rng.randint(1, 20), rng.randrange(64, 8192),
                                 128, 256, rng.choice([1, 2, 4])), "a random shape")],
        expected=_tile_read, rtol=0,
        mistakes=[
            _elements_not_bytes(_tile_read),
            Mistake("you counted one operand strip per tile: each tile reads its A strip and its B strip",
                    value=lambda M, N, K, bm, bn, eb: _tiles(M, N, bm, bn) * bm * K * eb),
            Mistake("you counted one operand strip per tile: each tile reads its A strip and its B strip",
                    value=lambda M, N, K, bm, bn, eb: _tiles(M, N, bm, bn) * K * bn * eb),
            Mistake("you counted each operand once (the ideal), not what the tiles read",
                    value=lambda M, N, K, bm, bn, eb: (M * K + K * N) * eb),
            Mistake("you multiplied by the tiles along one axis only: there are (M // BLOCK_M) x (N // BLOCK_N) tiles",
                    value=lambda M, N, K, bm, bn, eb: (M // bm) * (bm * K + K * bn) * eb),
        ],
        hint="(M // BLOCK_M) * (N // BLOCK_N) tiles, each reading BLOCK_M x K of A and K x BLOCK_N of B."),

    Exercise.single(
        "03.5", "grouped program order",
        reads=Function("my_grouped_pid",
                       "(tile_id: int, num_pid_m: int, num_pid_n: int, GROUP_M: int) -> tuple[int, int]"),
        cases=_order_cases, probe=_order_probe, expected=_orders(gemm.tile_order), compare=_compare_orders,
        mistakes=[
            Mistake("this is plain row-major order (no grouping)",
                    value=_orders(lambda m, n, g: gemm.tile_order(m, n))),
            Mistake("you divided by GROUP_M instead of the last group's real height (min(num_pid_m - first_m, "
                    "GROUP_M))", value=_orders(_no_short_group)),
            Mistake("a group holds GROUP_M * num_pid_n tiles (GROUP_M row-tiles times every column), not "
                    "GROUP_M * num_pid_m", value=_orders(_group_of_m)),
            Mistake("the row inside the group is (tile_id % (GROUP_M * num_pid_n)) % rows: tile_id % rows skips the "
                    "position in the group, and goes wrong in a short last group", value=_orders(_tutorial_mod)),
            Mistake("you returned (pid_n, pid_m): the order is (row-tile, column-tile)",
                    value=_orders(lambda m, n, g: [(q, p) for p, q in gemm.tile_order(m, n, g)])),
        ],
        hint="A group holds GROUP_M * num_pid_n tiles; its height is min(num_pid_m - first_m, GROUP_M)."),

    Exercise.single(
        "03.6", "strips per wave",
        reads=Function("wave_strips", "(pids: list, num_sms: int) -> int"),
        cases=_wave_cases, expected=_strips, rtol=0,
        mistakes=[
            Mistake("you counted tiles, not distinct strips (use sets of the row- and column-tiles)",
                    value=lambda pids, s: len(pids[:s])),
            Mistake("you took the union of the row-tile and column-tile sets: row-tile i (an A strip) and column-tile "
                    "i (a B strip) are different strips; count the two sets separately and add",
                    value=lambda pids, s: len({m for m, _ in pids[:s]} | {n for _, n in pids[:s]})),
            Mistake("you counted only A strips (row-tiles); add the distinct B strips (column-tiles)",
                    value=lambda pids, s: len({m for m, _ in pids[:s]})),
            Mistake("you counted only B strips (column-tiles); add the distinct A strips (row-tiles)",
                    value=lambda pids, s: len({n for _, n in pids[:s]})),
            Mistake("you counted the strips of the whole launch, not of the first num_sms tiles (one wave)",
                    value=lambda pids, s: _strips(pids, len(pids))),
            Mistake("you multiplied the two counts; strips add up", value=lambda pids, s: len(
                {m for m, _ in pids[:s]}) * len({n for _, n in pids[:s]})),
        ],
        hint="Take pids[:num_sms]; count the distinct first and second elements and add."),

    Exercise.single(
        "03.7", "pipeline stages that fit",
        reads=Function("max_stages",
                       "(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, elem_bytes: int, smem_bytes: int) -> int"),
        cases=lambda rng: [Case((128, 256, 64, 2, SMEM_PER_BLOCK), "128x256x64 bf16, 227 KiB"),
                           Case((128, 128, 128, 1, SMEM_PER_BLOCK), "128x128x128 fp8, 227 KiB"),
                           Case((rng.choice([64, 128, 256]), rng.choice([64, 128, 256]), rng.choice([32, 64, 128]),
                                 rng.choice([1, 2]), rng.randrange(96, 228) * 1024), "a random tile and budget")],
        expected=_stages, rtol=0,
        mistakes=[
            Mistake("you rounded up: a partial stage does not fit (floor-divide)",
                    value=lambda bm, bn, bk, eb, s: -(-s // ((bm + bn) * bk * eb))),
            Mistake("stages are whole: floor-divide (//) instead of dividing",
                    value=lambda bm, bn, bk, eb, s: s / ((bm + bn) * bk * eb)),
            Mistake("you forgot the element size", value=lambda bm, bn, bk, eb, s: s // ((bm + bn) * bk)),
            Mistake("you counted only one operand's slice per stage: a stage holds an A and a B slice",
                    value=lambda bm, bn, bk, eb, s: s // (bn * bk * eb)),
            Mistake("you counted only one operand's slice per stage: a stage holds an A and a B slice",
                    value=lambda bm, bn, bk, eb, s: s // (bm * bk * eb)),
            Mistake("you multiplied BLOCK_M by BLOCK_N: a stage is (BLOCK_M + BLOCK_N) x BLOCK_K elements",
                    value=lambda bm, bn, bk, eb, s: s // (bm * bn * bk * eb)),
        ],
        hint="Floor-divide the budget by the bytes of one stage, (BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes."),

    Exercise.single(
        "03.8", "wave efficiency",
        reads=Function("wave_efficiency", "(M: int, N: int, BLOCK_M: int, BLOCK_N: int, num_sms: int) -> float"),
        cases=lambda rng: [Case((8192, 8192, 128, 256, 148), "8192², 128x256, 148 SMs"),
                           Case((16384, 17290, 128, 256, 132), "16384x17290, 128x256, 132 SMs"),
                           Case((8192, 8192, 128, 128, 128), "8192², 128x128, 128 SMs: whole waves"),
                           Case((rng.randrange(256, 20000), rng.randrange(256, 20000), 128, rng.choice([128, 256]),
                                 rng.randrange(60, 170)), "a random shape and SM count")],
        expected=_eff, rtol=1e-9,
        mistakes=[
            Mistake("you used floor for the waves (a partial wave still takes a full wave's time)",
                    value=lambda *a: waves(*a, waves_round=lambda w: max(1, math.floor(w)))[2]),
            Mistake("you used floor for the ragged tiles (M / BLOCK_M or N / BLOCK_N is not whole)",
                    value=lambda *a: waves(*a, tiles_round=math.floor)[2]),
            Mistake("waves = ceil(tiles / num_sms): tiles // num_sms + 1 is one wave too many when the tiles fill "
                    "whole waves", value=lambda *a: waves(*a, waves_round=one_too_many)[2]),
            Mistake("you returned the number of waves, not the fraction of SM slots used",
                    value=lambda *a: waves(*a)[1]),
            Mistake("integer division (//) rounds the fraction down to 0 (or 1 for whole waves): divide tiles by "
                    "waves x num_sms with /", value=lambda *a: waves(*a)[0] // (waves(*a)[1] * a[-1])),
            Mistake("that is a percentage: return the fraction tiles / (waves x num_sms), between 0 and 1 (no x 100)",
                    ratio=100),
            Mistake("the ratio is upside down: tiles / (waves x num_sms) is at most 1",
                    value=lambda *a: 1 / _eff(*a)),
        ],
        hint="ceil for the tiles along M and N, ceil again for the waves; efficiency = tiles / (waves * SMs)."),
)


# ------------------------------------------------------------------------------------------------------------
# 03.9: which instruction carries the tiles (a choice)
# ------------------------------------------------------------------------------------------------------------
TILE_COPY_OPTIONS = ("ld.global", "cp.async.bulk.tensor", "tcgen05.cp", "wgmma.mma_async")

register(
    Exercise.choice(
        "03.9", "TMA instruction", "tile_copy_instruction", TILE_COPY_OPTIONS, answer="cp.async.bulk.tensor",
        wrong={
            "ld.global": "ld.global is how step 1 loads (each thread a few elements); steps 2-4 copy with cp.async, "
                         "and step 5 uses neither",
            "tcgen05.cp": "tcgen05.cp copies shared memory into Tensor Memory (e.g. scale factors), not global to "
                          "shared",
            "wgmma.mma_async": "wgmma.mma_async is Hopper's MMA, not a copy, and it is not on sm_100a",
        },
        hint="Look at the TMA load column of the table, the one that becomes non-zero at step 5: which PTX "
             "instruction does its pattern count?"),
)
