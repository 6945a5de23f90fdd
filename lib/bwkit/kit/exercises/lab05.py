"""Exercises of lab 05 (CuTe DSL): layouts checked on every coordinate, a compiled kernel's PTX, a PTX reader.

A layout answer (a `bwkit.layouts.Layout`, or a function of coordinates) is evaluated on its coordinate grid in
the learner's process (`grid_data`: the table of indices plus the layout's text) and compared in the trusted
process with the table of the reference, which CuTe (through `bwkit.layouts.run_cute`) or `bwkit.layouts`
computes. The compiled-kernel exercise sends the PTX text back and reads facts from it (conversions, TMEM loads,
TMEM columns, TMA bytes per stage, mbarriers) next to those of the reference kernel compiled here.
"""

from __future__ import annotations

import functools
import random
import re
from typing import Any

import numpy as np

from bwkit import layouts as L
from bwkit.kit.checks import as_int, not_an_int
from bwkit.kit.exercises.codec import AnswerError
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.spec import Case, Exercise, Function, Mistake, Part, Value, wrong_unit

__all__ = ["grid_data", "compare_grid", "ptx_facts", "mma_kind_reference", "SMEM_PER_CTA"]

SMEM_PER_CTA = 227 * 1024          # bytes of shared memory one sm_100a CTA may use (bwkit.cute_gemm's rule)


# ----------------------------------------------------------------------------------------------- layout answers
def _mode_sizes(x: L.Layout) -> tuple[int, ...]:
    return (x.shape,) if isinstance(x.shape, int) else tuple(L.product(s) for s in x.shape)


def grid_data(x: Any, sizes: tuple[int, ...], name: str) -> dict:
    """A layout answer as data: its text, mode sizes and table on the `sizes` grid, or the problem with it."""
    out: dict[str, Any] = {"text": None, "shape": None, "stride": None, "sizes": None, "table": None,
                           "problem": None}
    if x is None:
        out["problem"] = f"`{name}` is None: assign (or return) a bwkit.layouts.Layout"
    elif isinstance(x, L.Layout):
        out.update(text=str(x), shape=x.shape, stride=x.stride, sizes=_mode_sizes(x))
        if out["sizes"] != tuple(sizes):
            n = len(out["sizes"])
            out["problem"] = (f"`{name}` is {x}: {n} mode{'s' if n > 1 else ''} of sizes {list(out['sizes'])}, but "
                              f"the check evaluates it on a {' x '.join(map(str, sizes))} grid (mode sizes "
                              f"{list(sizes)})")
        else:
            out["table"] = L.table(x)
    elif type(x).__module__.startswith("cutlass"):
        out["problem"] = (f"`{name}` is a CuTe {type(x).__name__}, which lives only inside @cute.jit: build it "
                          "with L.run_cute(lambda: ...) or write L.Layout(shape, stride)")
    elif callable(x):
        table = np.empty(tuple(sizes), dtype=np.int64)
        for idx in np.ndindex(*sizes):
            v = x(*idx)
            n = as_int(v)
            if n is None:
                call = f"{name}({', '.join(map(str, idx))})"
                out["problem"] = (f"{call} returned None: is a `return` missing?" if v is None else
                                  f"{call} returned {not_an_int(v)}: a layout function must return an int index")
                return out
            table[idx] = n
        out["table"] = table
    else:
        out["problem"] = f"`{name}` is a {type(x).__name__} ({str(x)[:40]}): expected a bwkit.layouts.Layout"
    return out


def compare_grid(got: Any, want: Any) -> tuple[bool, list[str]]:
    """Compare `grid_data` answers with a reference table (or with a mistake model's `grid_data`)."""
    if not isinstance(got, dict) or "table" not in got:
        return False, [f"the answer could not be read as a layout ({type(got).__name__})"]
    if isinstance(want, dict):       # a mistake model: the same function on the grid, or the same layout text
        if got["table"] is not None and want["table"] is not None:
            return bool(np.array_equal(got["table"], want["table"])), []
        return got["text"] is not None and got["text"] == want["text"], []
    if got["problem"]:
        return False, [got["problem"]]
    a, b = np.asarray(got["table"]), np.asarray(want)
    if a.shape != b.shape:
        return False, [f"the table has shape {list(a.shape)}, expected {list(b.shape)}"]
    wrong = np.argwhere(a != b)
    if not len(wrong):
        return True, []
    first = tuple(int(i) for i in wrong[0])
    lines = [f"{len(wrong)} of {a.size} coordinates map to the wrong index; first: {first} -> {int(a[first])}, "
             f"expected {int(b[first])}"]
    if got["text"]:
        lines.append(f"your layout: {got['text']}")
    return False, lines


def _layout_value(name: str, sizes: tuple[int, ...]):
    """Probe of a Value answer holding a layout."""
    return lambda answers, case: grid_data(answers[name], sizes, name)


def _wrong(layout: L.Layout, sizes: tuple[int, ...]):
    """A mistake model: what a wrong layout gives on the grid (computed in the trusted process)."""
    return lambda *args: grid_data(layout, sizes, "answer")


def _covers(got: Any, n: int) -> bool | None:
    """True when the answer's layout (rebuilt from its shape and stride) maps onto exactly [0, n)."""
    if not isinstance(got, dict) or got.get("shape") is None:
        return None
    lay = L.Layout(got["shape"], got["stride"])
    return lay.size == n and sorted(lay(i) for i in range(lay.size)) == list(range(n))


_B8 = (8, 8)


def _blocked(ii, bi, jj, bj) -> L.Layout:
    return L.Layout(((4, 2), (4, 2)), ((ii, bi), (jj, bj)))


# 05.1's wrong layouts: the strides (ii, bi, jj, bj) of a classic wrong answer -> its diagnosis
_WRONG_STRIDES = {
    (4, 32, 1, 16): "the blocks are stored row-major in your layout: swap the two block strides (16 and 32)",
    (1, 16, 4, 32): "inside a block your elements are column-major: inside a block the index is 4·ii + jj",
    (1, 32, 4, 16): "both levels are transposed: row-major inside a block (4·ii + jj), blocks column-major "
                    "(16·(bi + 2·bj))",
    (8, 32, 1, 4): "this is a plain row-major 8x8 matrix (index 8·i + j): the 4x4 blocks are missing",
    (1, 4, 8, 32): "this is a plain column-major 8x8 matrix (index i + 8·j): the 4x4 blocks are missing",
    (16, 4, 32, 1): "the strides sit in the wrong sub-modes: each mode is (inside the block, which block), so the "
                    "block strides come second",
}


def _wrong_blocked() -> list[Mistake]:
    """05.1's mistakes of the right shape and wrong strides: each the blocked layout of `_WRONG_STRIDES`."""
    return [Mistake(why, value=_wrong(_blocked(*strides), _B8)) for strides, why in _WRONG_STRIDES.items()]


def _blocked_reference() -> np.ndarray:
    def index(i: int, j: int) -> int:        # blocks of 16 stored column-major, row-major inside a block
        return 16 * (i // 4 + 2 * (j // 4)) + 4 * (i % 4) + j % 4
    return L.table(index, _B8)


# ------------------------------------------------------------------------------------------------ 05.3 tiling
ROW8 = L.Layout((8, 8), (8, 1))
TILE_SHAPES = [(tm, tn) for tm in (1, 2, 4, 8) for tn in (1, 2, 4, 8) if (tm, tn) not in ((1, 1), (8, 8))]


@functools.lru_cache(maxsize=64)
def _divide(op: str, tm: int, tn: int, base: L.Layout = ROW8, layout_tiler: bool = False) -> L.Layout:
    """CuTe's `op` (zipped_divide, logical_divide, tiled_divide) of `base` by (tm, tn), via run_cute;
    `layout_tiler`: by the single layout `cute.make_layout((tm, tn))` instead (a 1-D tiler of tm·tn elements)."""
    import cutlass.cute as cute

    def build():
        lay = cute.make_layout(base.shape, stride=base.stride)
        if layout_tiler:
            return getattr(cute, op)(lay, cute.make_layout((tm, tn)))
        if op == "logical_divide":
            return cute.logical_divide(lay, (cute.make_layout(tm), cute.make_layout(tn)))
        return getattr(cute, op)(lay, (tm, tn))
    return L.run_cute(build)


def _tile_sizes(tm: int, tn: int) -> tuple[int, int]:
    return tm * tn, 64 // (tm * tn)


def _tile_probe(answers, case):
    tm, tn = case.args
    return grid_data(answers["tile_8x8"](tm, tn), _tile_sizes(tm, tn), f"tile_8x8({tm}, {tn})")


def _tile_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((4, 2), "4x2 tiles (this exercise)"), Case((2, 4), "2x4 tiles (step 2's plot)")]
    others = [t for t in TILE_SHAPES if t not in ((4, 2), (2, 4))]
    # one drawn tile is more than one row and one column: on a 1-wide tile a layout passed as the tiler reads
    # the same as logical_divide, and the two mistakes could not be told apart
    square = rng.choice([t for t in others if min(t) > 1])
    drawn = [square, rng.choice([t for t in others if t != square])]
    return fixed + [Case(t, "other tiles") for t in drawn]


def _tile_mistake(op: str, *, swap: bool = False, base: L.Layout = ROW8, fixed: tuple[int, int] | None = None,
                  layout_tiler: bool = False):
    def model(tm: int, tn: int) -> dict:
        a, b = fixed or ((tn, tm) if swap else (tm, tn))
        return grid_data(_divide(op, a, b, base, layout_tiler), _tile_sizes(tm, tn), "answer")
    return model


# ------------------------------------------------------------------------------------------------ 05.5 swizzle
def _chunk(r: int, c: int) -> int:
    """Physical 16-byte chunk of logical chunk c of row r in a 128-byte-wide tile under Swizzle<3,4,3>."""
    return L.swizzle(128 * r + 16 * c, 3, 4, 3) % 128 // 16


def _chunk_cases(rng: random.Random) -> list[Case]:
    grid = [Case((r, c), "the 8-row tile") for r in range(8) for c in range(8)]
    return grid + [Case((rng.randrange(8, 1024), rng.randrange(8)), "a row further down") for _ in range(12)]


register(
    Exercise.single(
        "05.1", "blocked 8x8 layout",
        reads=Value("blocked_8x8", "bwkit.layouts.Layout"),
        probe=_layout_value("blocked_8x8", _B8), expected=_blocked_reference, compare=compare_grid,
        mistakes=[
            *_wrong_blocked(),
            Mistake("the layout must have the shape ((4,2),(4,2)): mode 0 = (row in block, block row), mode 1 = "
                    "(column in block, block column)",
                    when=lambda got, want: got.get("sizes") is not None and got["sizes"] != _B8),
        ],
        hint="Block (bi, bj) starts at 16·(bi + 2·bj); inside it element (ii, jj) adds 4·ii + jj."),

    Exercise.single(
        "05.2", "predict a complement",
        reads=Value("my_complement", "bwkit.layouts.Layout"),
        probe=_layout_value("my_complement", (4, 2)),
        expected=lambda: L.table(L.complement(L.Layout(3, 4), 24)), compare=compare_grid,
        mistakes=[
            Mistake("you put the repeat first: CuTe orders the complement's modes by stride, smallest (1) first",
                    when=lambda got, want: got.get("text") == "(2,4):(12,1)"),
            Mistake("copies of 3:4 repeat every 3 x 4 = 12 indices (its span), not 16",
                    value=_wrong(L.Layout((4, 2), (1, 16)), (4, 2))),
            Mistake("only the holes inside one copy: the complement must also repeat the copies up to 24",
                    when=lambda got, want: got.get("text") in ("4:1", "(4):(1)")),
            Mistake("the holes inside one copy of 3:4 are the offsets 0-3 below its stride 4: 4 of them, not 3",
                    when=lambda got, want: got.get("text") in ("(3,2):(1,12)", "(3,2):(1,8)")),
            Mistake("that covers the whole of [0, 24) (3:4 together with its complement): leave out the 3:4 "
                    "mode itself", when=lambda got, want: got.get("sizes") != (4, 2) and _covers(got, 24)),
            Mistake("that is the complement of 4:2 (step 2's example), not of 3:4",
                    when=lambda got, want: got.get("text") == "(2,3):(1,8)"),
        ],
        hint="3:4 fills 0, 4, 8 (a span of 12): which offsets below 4 are missing, and how many spans fit in 24?"),

    Exercise.single(
        "05.3", "zipped_divide into tiles",
        reads=Function("tile_8x8", "(tile_m: int, tile_n: int) -> bwkit.layouts.Layout"),
        cases=_tile_cases, probe=_tile_probe, compare=compare_grid,
        expected=lambda tm, tn: L.table(_divide("zipped_divide", tm, tn)),
        mistakes=[
            Mistake("CuTe's layout functions run only inside a JIT function: wrap the call in "
                    "L.run_cute(lambda: cute.zipped_divide(...))", error="CALL_OUTSIDE_JIT"),
            Mistake("your function ignores tile_m and tile_n: it always tiles 4x2",
                    value=_tile_mistake("zipped_divide", fixed=(4, 2))),
            Mistake("rows and columns of the tile are swapped: the tiler is (tile_m, tile_n) = (rows, columns)",
                    value=_tile_mistake("zipped_divide", swap=True)),
            Mistake("you used logical_divide: its modes are (rows, columns), each split; zipped_divide gathers "
                    "(inside a tile, which tile)", value=_tile_mistake("logical_divide")),
            Mistake("you used tiled_divide: it flattens the tile modes ((inside), tiles along M, tiles along N); "
                    "zipped_divide keeps two modes", value=_tile_mistake("tiled_divide")),
            Mistake("you divided the column-major matrix (8,8):(1,8); the matrix is row-major (8,8):(8,1)",
                    value=_tile_mistake("zipped_divide", base=L.Layout((8, 8), (1, 8)))),
            Mistake("the tiler is the tuple (tile_m, tile_n), one size per mode: cute.make_layout((tile_m, tile_n)) "
                    "is a single layout, which divides the matrix as one flat mode of tile_m·tile_n elements",
                    value=_tile_mistake("zipped_divide", layout_tiler=True)),
        ],
        hint="L.run_cute(lambda: cute.zipped_divide(cute.make_layout((8, 8), stride=(8, 1)), (tile_m, tile_n)))."),

    Exercise.single(
        "05.4", "epilogue TV layout",
        reads=Value("epilogue_tv", "bwkit.layouts.Layout"),
        probe=_layout_value("epilogue_tv", (128, 32)), compare=compare_grid,
        expected=lambda: L.table(lambda t, v: t + 128 * v, (128, 32)),
        mistakes=[
            Mistake("you wrote a row-major index (t·32 + v): the tile is column-major, index = m + 128·n",
                    value=_wrong(L.Layout((128, 32), (32, 1)), (128, 32))),
            Mistake("the next column of a column-major 128-row tile is 128 elements further, not 32",
                    value=_wrong(L.Layout((128, 32), (1, 32)), (128, 32))),
            Mistake("the strides are swapped: the next thread (row) is +1, the next value (column) +128",
                    value=_wrong(L.Layout((128, 32), (128, 1)), (128, 32))),
            Mistake("the modes are swapped: mode 0 is the thread (128 of them), mode 1 the value (32)",
                    when=lambda got, want: got.get("sizes") == (32, 128)),
        ],
        hint="Next thread = next row (+1 in a column-major tile); next value = next column (+128)."),

    Exercise.single(
        "05.5", "swizzled chunk",
        reads=Function("swizzled_chunk", "(r: int, c: int) -> int"),
        cases=_chunk_cases, expected=_chunk, atol=0, rtol=0,
        mistakes=[
            Mistake("no swizzle: that is the plain row-major chunk", value=lambda r, c: c),
            Mistake("a rotation (c + r) % 8 also spreads the rows, but the hardware XORs",
                    value=lambda r, c: (c + r) % 8),
            Mistake("a rotation (c - r) % 8 also spreads the rows, but the hardware XORs",
                    value=lambda r, c: (c - r) % 8),
            Mistake("you XORed the whole row number: only its low 3 bits (address bits 7-9, r % 8) enter",
                    value=lambda r, c: c ^ r),
            Mistake("you returned the chunk's byte offset (16 x chunk): return the chunk number 0-7", ratio=16),
            Mistake("you swizzled the element index of 2-byte data: the DSL swizzles the byte address "
                    "(128 bytes per row)", value=lambda r, c: L.swizzle(64 * r + 8 * c, 3, 4, 3) % 64 // 8),
        ],
        hint="An XOR of the chunk number with the row's low 3 bits."),
)


# ------------------------------------------------------------------------------------------------ 05.6 smem
def _stage_bytes(tile_n: int = 128, elem_bytes: int = 2) -> int:
    from bwkit import cute_gemm as cg

    return cg.smem_bytes(cg.GemmConfig(TILE_N=tile_n, STAGES=2), elem_bytes) // 2


register(Exercise("05.6", "stage bytes", (
    Part(reads=(Value("stage_bytes", "int", "bytes"),), name="one stage of A and B",
         expected=_stage_bytes, atol=0, rtol=0,
         mistakes=(
             Mistake("16384 is half a stage: either the 2 bytes per bf16 element or one operand (A or B) is "
                     "missing", ratio=0.5),
             Mistake("you used TILE_N = 256 (the default) instead of 128", value=lambda: _stage_bytes(256)),
             Mistake("65536 is twice a stage: a stage holds only A's TILE_M x TILE_K and B's TILE_N x TILE_K slices "
                     "(TILE_K = 64, not 128; not the C tile), 2 bytes per bf16 element (not 4)", ratio=2),
             wrong_unit("bits", "bytes", 8),
             wrong_unit("KiB", "bytes", 1 / 1024),
             Mistake("that is in kB (/ 1000): the answer is in bytes", value=lambda: _stage_bytes() / 1000),
         ), hint="A stage holds TILE_M x TILE_K of A and TILE_N x TILE_K of B, 2 bytes per bf16 element."),
    Part(reads=(Value("max_stages", "int"),), name="stages in 227 KiB",
         expected=lambda: SMEM_PER_CTA // _stage_bytes(), atol=0, rtol=0,
         mistakes=(
             Mistake("consistent with a 16384-byte stage: fix stage_bytes first",
                     value=lambda: SMEM_PER_CTA // (_stage_bytes() // 2)),
             Mistake("consistent with TILE_N = 256: the exercise uses TILE_N = 128",
                     value=lambda: SMEM_PER_CTA // _stage_bytes(256)),
             Mistake("consistent with a 65536-byte stage (twice the real one): fix stage_bytes first",
                     value=lambda: SMEM_PER_CTA // (2 * _stage_bytes())),
             Mistake("a stage that does not fit whole cannot be used: round down (//), not up",
                     value=lambda: -(-SMEM_PER_CTA // _stage_bytes())),
             Mistake("the number of stages is a whole number: use floor division (//)",
                     value=lambda: SMEM_PER_CTA / _stage_bytes()),
             # 227000 // 32768 and 232448 // 32768 - 1 are both 6: one diagnosis names the two causes
             Mistake("one stage short: 227 KiB is 227 x 1024 = 232448 bytes, not 227 x 1000, and the whole budget "
                     "goes to the ring (no stage is kept spare: the exercise ignores the barriers' few bytes)",
                     value=lambda: 227_000 // _stage_bytes()),
             Mistake("one stage short: the whole 232448-byte budget goes to the ring (no stage is kept spare: the "
                     "exercise ignores the barriers' few bytes)", value=lambda: SMEM_PER_CTA // _stage_bytes() - 1),
         ), hint="max_stages = 232448 // stage_bytes, a whole number of stages."),
)))


# ------------------------------------------------------------------------------------------------ 05.7 compile
def ptx_facts(ptx: str) -> dict:
    """What the dense kernel's configuration leaves in its PTX: output conversions, TMEM load widths, MMA kinds,
    TMEM columns allocated, TMA bytes per stage (mbarrier expect_tx) and the number of mbarriers."""
    movs: dict[str, set[int]] = {}
    for reg, v in re.findall(r"mov\.b32\s+(%r\d+),\s*(\d+);", ptx):
        movs.setdefault(reg, set()).add(int(v))

    def values(regs: list[str]) -> list[int]:
        return sorted({v for r in regs for v in movs.get(r, ())})
    return {
        "output conversion": sorted(set(re.findall(r"cvt\.rn\.(b?f16)x2\.f32", ptx))),
        "tcgen05.ld width": sorted(set(re.findall(r"tcgen05\.ld\.sync\.aligned\.32x32b\.(x\d+)", ptx))),
        "tcgen05.mma kind": sorted(set(re.findall(r"tcgen05\.mma\.cta_group::\d\.kind::(\w+)", ptx))),
        "TMEM columns": values(re.findall(r"tcgen05\.alloc\S*\s+\[[^\]]+\],\s*(%r\d+)", ptx)),
        "bytes per stage": values(re.findall(r"mbarrier\.arrive\.expect_tx\S*\s+%rd\d+,\s*\[[^\]]+\],\s*(%r\d+)",
                                             ptx)),
        "mbarriers": len(re.findall(r"mbarrier\.init", ptx)),
    }


@functools.lru_cache(maxsize=16)
def _kernel_facts(dtype: str = "fp16", tile_n: int = 128, stages: int = 6, epi_n: int = 16) -> dict:
    from bwkit import cute_gemm as cg

    k = cg.compile_gemm(1024, 1024, 1024, dtype=dtype,
                        config=cg.GemmConfig(TILE_N=tile_n, STAGES=stages, EPI_N=epi_n))
    return ptx_facts(k.ptx)


def _kernel_probe(answers, case) -> dict:
    k = answers["my_kernel"]
    name = type(k).__name__
    if name == "Compiled" and isinstance(getattr(k, "ptx", None), str):
        return {"type": name, "ptx": k.ptx}
    if callable(k):
        kind, why = "function", (f"`my_kernel` is a function ({getattr(k, '__name__', name)}): call it, e.g. "
                                 "cg.compile_gemm(...)")
    elif isinstance(k, str):
        kind, why = "text", ("`my_kernel` is a str: keep the Compiled object that cg.compile_gemm returns (the check "
                             "reads its .ptx)")
    else:
        kind, why = "other", (f"`my_kernel` is a {name}: it must be what cg.compile_gemm returns (a "
                              "bwkit.inspect.Compiled)")
    return {"type": name, "ptx": None, "problem": why, "kind": kind}


def _compare_kernel(got: Any, want: dict) -> tuple[bool, list[str]]:
    if not isinstance(got, dict) or "ptx" not in got:
        return False, [f"the answer could not be read ({type(got).__name__})"]
    if got.get("problem"):
        return False, [got["problem"]]
    facts = ptx_facts(got["ptx"])
    diff = [f"{k}: {facts[k]} in your PTX, expected {want[k]}" for k in want if facts[k] != want[k]]
    return not diff, diff


def _fact(key: str, bad=None):
    """A `when` model: the answer's PTX differs from the reference in fact `key` (optionally: equals `bad`)."""
    def when(got, want):
        if not isinstance(got, dict) or not got.get("ptx"):
            return None
        f = ptx_facts(got["ptx"])[key]
        return f != want[key] if bad is None else f == bad
    return when


register(
    Exercise.single(
        "05.7", "configure and compile",
        reads=Value("my_kernel", "bwkit.inspect.Compiled"),
        probe=_kernel_probe, expected=_kernel_facts, compare=_compare_kernel,
        mistakes=[
            Mistake("my_kernel must be the Compiled object itself, not its PTX text or the function",
                    when=lambda got, want: bool(got.get("problem")) and got.get("kind") in ("function", "text")),
            Mistake("that is the NVFP4 kernel (kind::mxf4nvf4): compile the dense one with cg.compile_gemm",
                    when=_fact("tcgen05.mma kind", ["mxf4nvf4"])),
            Mistake("the output is converted to BF16: pass dtype='fp16' to cg.compile_gemm",
                    when=_fact("output conversion", ["bf16"])),
            Mistake("the epilogue loads are not 16 columns wide (x16): set EPI_N=16 in the GemmConfig",
                    when=_fact("tcgen05.ld width")),
            Mistake("TILE_N is not 128 (TMEM columns and TMA bytes per stage follow it): set TILE_N=128",
                    when=_fact("TMEM columns")),
            Mistake("the pipeline has the wrong number of mbarriers (one full and one empty per stage): set "
                    "STAGES=6", when=_fact("mbarriers")),
        ],
        hint="cg.compile_gemm(M, N, K, dtype=..., config=cg.GemmConfig(TILE_N=..., STAGES=..., EPI_N=...))."),
)


# ------------------------------------------------------------------------------------------------ 05.8 PTX
_MMA = re.compile(r"tcgen05\.mma\.cta_group::\d\.kind::(\w+)((?:\.[\w:]+)*)")


def _kind_text(m: re.Match) -> str:
    block = re.search(r"\.block_scale\.(block\d+)", m.group(2))
    return m.group(1) + (f".{block.group(1)}" if block else "")


def mma_kind_reference(ptx: str) -> str:
    """'kind' or 'kind.blockN' of the first tcgen05.mma in a PTX text; 'none' when there is none."""
    m = _MMA.search(ptx)
    return "none" if m is None else _kind_text(m)


_KINDS = ["f16", "tf32", "f8f6f4", "i8", "mxf8f6f4.block_scale.block32", "mxf4.block_scale.block32",
          "mxf4nvf4.block_scale.block16", "mxf4nvf4.block_scale.block32"]
_FILLER = ["mbarrier.try_wait.parity.shared.b64 P1, [%r{a}], %r{b}, 10000000;", "ld.shared.b32 %r{a}, [%r{b}];",
           "add.s32 %r{a}, %r{b}, 16;", "tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64 "
           "[%r{a}];", "elect.sync %r{a}|%p{b}, -1;", "setp.ne.s32 %p{a}, %r{b}, 0;"]


def _ptx(rng: random.Random, mmas: list[tuple[int, str]], n_filler: int = 6) -> str:
    """A made-up sm_100a PTX fragment with the given (cta_group, kind...) tcgen05.mma lines among filler."""
    def reg() -> int:
        return rng.randrange(1, 400)
    body = [f"\t{rng.choice(_FILLER).format(a=reg(), b=reg())}" for _ in range(n_filler)]
    for group, kind in mmas:
        line = (f"\ttcgen05.mma.cta_group::{group}.kind::{kind}.collector::a::discard [%r{reg()}], %rd{reg()}, "
                f"%rd{reg()}, %r{reg()}, %p{reg()};")
        body.insert(rng.randrange(len(body) + 1), line)
    return "//\n.version 8.7\n.target sm_100a\n.address_size 64\n\n.entry made_up()\n{\n" + "\n".join(body) + \
        "\n\tret;\n}\n"


@functools.lru_cache(maxsize=1)
def _lab_kernels() -> tuple[str, str]:
    from bwkit import cute_gemm as cg

    return cg.compile_gemm(1024, 1024, 1024).ptx, cg.compile_gemm_nvfp4(1024, 1024, 1024).ptx


def _ptx_cases(rng: random.Random) -> list[Case]:
    dense, nvfp4 = _lab_kernels()
    hopper = "//\n.version 8.4\n.target sm_90a\n\n.entry k()\n{\n\twgmma.fence.sync.aligned;\n\twgmma.mma_async." \
             "sync.aligned.m64n128k16.f32.bf16.bf16 {%f1, %f2}, %rd1, %rd2, p, 1, 1, 0, 0;\n\tret;\n}\n"
    kinds = rng.sample(_KINDS, 2)
    return [Case((dense,), "the lab's dense kernel"), Case((nvfp4,), "the lab's NVFP4 kernel"),
            Case((_ptx(rng, [(1, "tf32"), (1, "f16")]),), "made-up PTX: a tf32 MMA, then an f16 one"),
            Case((_ptx(rng, [(2, "mxf8f6f4.block_scale.block32")]),), "made-up PTX: MXFP8 on a CTA pair"),
            Case((hopper,), "a Hopper kernel (wgmma, no tcgen05)"),
            Case((_ptx(rng, [(rng.choice([1, 2]), kinds[0]), (1, kinds[1])]),), "made-up PTX")]


def _none_error(got: Any) -> bool:
    """The learner's code raised on a None (a regex group or match that did not match)."""
    return isinstance(got, AnswerError) and "nonetype" in f"{got.type}: {got.message}".lower()


def _first_kind_only(got, want, ptx) -> bool | None:
    return "." in want and isinstance(got, str) and got.strip().lower() == want.split(".")[0]


def _last_kind(got, want, ptx) -> bool | None:
    """The answer is the last tcgen05.mma's kind (with or without its block size), and that differs from the
    first's (asked on failing inputs only: where the last equals the first, a wrong answer is not the last's)."""
    found = list(_MMA.finditer(ptx))
    if not found:
        return None
    last = _kind_text(found[-1])
    return last != want and isinstance(got, str) and got.strip().lower() in (last, last.split(".")[0])


def _group_one_only(got, want, ptx) -> bool | None:
    """The answer reads only `cta_group::1` MMAs, and the first MMA is on a CTA pair (`cta_group::2`)."""
    first = _MMA.search(ptx)
    if first is None:
        return None
    if "cta_group::2" not in first.group(0):
        return False          # a failing input whose first MMA is on one CTA: a group-1 reader gets it right
    one = re.search(_MMA.pattern.replace(r"::\d", "::1"), ptx)
    return isinstance(got, str) and got.strip().lower() == ("none" if one is None else _kind_text(one))


def _block_number_only(got, want, ptx) -> bool | None:
    """'mxf4nvf4.16': the block size without the word 'block'."""
    if ".block" not in want:
        return None
    return isinstance(got, str) and got.strip().lower() == want.replace(".block", ".")


register(
    Exercise.single(
        "05.8", "MMA kind from PTX",
        reads=Function("mma_kind", "(ptx: str) -> str"),
        cases=_ptx_cases, expected=mma_kind_reference,
        mistakes=[
            Mistake("re.search found no tcgen05.mma (a Hopper kernel has none) and returned None: return 'none' "
                    "then", when=lambda got, want, ptx: _none_error(got) and want == "none", sees_errors=True),
            Mistake("the block size is optional (the f16 and tf32 kinds have none), so its group is None there: "
                    "add '.blockNN' only when it matched",
                    when=lambda got, want, ptx: _none_error(got) and want != "none" and "." not in want,
                    sees_errors=True),
            Mistake("add the scale block size for a block-scaled MMA: '.block16' (NVFP4) or '.block32'",
                    when=_first_kind_only),
            Mistake("leave out 'block_scale': the answer is the kind and the block size, e.g. 'mxf4nvf4.block16'",
                    when=lambda got, want, ptx: isinstance(got, str) and ".block_scale" in got),
            Mistake("stop at the kind (and block size): the collector qualifier is not part of it",
                    when=lambda got, want, ptx: isinstance(got, str) and "collector" in got),
            Mistake("drop the 'kind::' prefix (and the instruction name): return what follows it",
                    when=lambda got, want, ptx: isinstance(got, str) and "kind::" in got),
            Mistake("return the string 'none' when the PTX has no tcgen05.mma",
                    when=lambda got, want, ptx: want == "none" and got in (None, "")),
            Mistake("an MMA on a CTA pair is tcgen05.mma.cta_group::2: match the group with \\d, not a fixed 1",
                    when=_group_one_only),
            Mistake("write the block size as it appears in the PTX, with the word 'block': e.g. 'mxf4nvf4.block16', "
                    "not 'mxf4nvf4.16'", when=_block_number_only),
            Mistake("you returned the kind of the last tcgen05.mma: the exercise asks for the first",
                    when=_last_kind),
            Mistake("you returned one of the lab's two answers for a PTX with another kind: read the kind from "
                    "the text", when=lambda got, want, ptx: got in ("mxf4nvf4.block16", "f16") and got != want),
        ],
        hint="re.search(r'tcgen05\\.mma\\.cta_group::\\d\\.kind::(\\w+)...', ptx); block-scaled kinds continue "
             "with '.block_scale.block16'."),
)

