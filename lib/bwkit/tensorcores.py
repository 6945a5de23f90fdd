"""Tensor Cores, generation by generation, and a CPU model of Blackwell's `tcgen05.mma` and Tensor Memory.

Three things live here, each checked against the PTX ISA and CUTLASS headers (see `SOURCES`):

* `GENERATIONS`: Volta -> Ampere -> Hopper -> Blackwell (datacenter and consumer): the MMA instruction, who
  issues it, where operands and accumulators live, shapes and kinds. `generation_table()` renders it,
  `generation_of("sm_90a")` names one, and `mma_per_k_step` counts the fp16 MMA instructions of one K step of a
  tile per target (checked against compiled PTX in lab 01).
* Tensor Memory (TMEM): 128 lanes x 512 columns x 32 bit per SM. `accumulator_columns` (how many columns an
  M x N fp32 accumulator takes), `tmem_budget` (accumulator buffers + scale factors vs the 512 columns),
  `TmemAllocator` (the `tcgen05.alloc` rules: a power of two >= 32 columns) and `tmem_address` / `tmem_image`
  (where element (m, n) of D sits: CTA, lane, column).
* `tcgen05_mma`: a functional model of one `tcgen05.mma` for kinds f16, f8f6f4, mxf8f6f4, mxf4 and mxf4nvf4:
  D = A @ B (+ D) with optional per-block scale factors, on tiles of one legal instruction shape. Illegal
  shapes raise with the legal shapes of that kind (`legal_shapes`, `describe_shapes`).

    from bwkit import tensorcores as tc
    tc.accumulator_columns(128, 256)                     # 256 of the 512 TMEM columns
    d = tc.tcgen05_mma(a, b, kind="mxf8f6f4", sf_a=sfa, sf_b=sfb, a_fmt="e4m3", b_fmt="e4m3")

The model computes the products exactly and rounds once to fp32: real hardware accumulates in an unspecified
order with its own internal precision, so it can differ in the last bits. Narrow element formats are decoded
by `bwkit.formats` (bit-exact). Taught in lab 01.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import torch

__all__ = [
    "SOURCES", "TensorCoreGen", "GENERATIONS", "generation_table",
    "KindSpec", "KINDS", "legal_shapes", "describe_shapes", "check_shape", "k_per_instruction",
    "TMEM_LANES", "TMEM_COLUMNS", "TMEM_BYTES",
    "accumulator_columns", "scale_factor_columns", "alloc_columns", "round_alloc",
    "TmemBudget", "tmem_budget", "TmemAllocator", "tmem_address", "tmem_image",
    "tcgen05_mma", "reference_mma",
    "MMA_TARGETS", "mma_per_k_step", "generation_of", "MYSTERY_TARGETS",
]

SOURCES: dict[str, str] = {
    "ptx_tcgen05": "NVIDIA PTX ISA 9.x, 'tcgen05' chapter: Matrix Shape table ('Various combinations of "
                   ".kind and shapes'), Tensor Memory (128 lanes x 512 columns of 32 bit; tcgen05.alloc "
                   "takes a power of two >= 32 columns), block scaling (scale factors in TMEM)",
    "ptx_wgmma": "NVIDIA PTX ISA, 'wgmma.mma_async' (warpgroup-level MMA): m64nNk16 f16/bf16, m64nNk8 tf32, "
                 "m64nNk32 e4m3/e5m2/s8, N a multiple of 8 up to 256",
    "ptx_mma": "NVIDIA PTX ISA, 'Warp-level matrix multiply-accumulate instructions' (mma.sync: m8n8k4 on "
               "sm_70, m16n8k8/m16n8k16 on sm_80; kind::f8f6f4 m16n8k32 and block_scale kinds on sm_120a)",
    "cutlass_sm100": "CUTLASS include/cute/arch/mma_sm100_umma.hpp (commit 7107b055), static_asserts of the "
                     "SM100_MMA_* atoms: 1-CTA M in {64,128}, N%8, 8..256; 2-CTA M in {128,256}, N%16, "
                     "16..256; block-scaled (MXF8F6F4, MXF4) 1-CTA M=128; MXF8F6F4 2-CTA M=256, MXF4 2-CTA "
                     "M in {128,256}",
    "cutlass_frag": "CUTLASS include/cute/atom/mma_traits_sm100_frag.hpp (commit 7107b055): TMEM "
                    "accumulator layouts (M=128: lane = row; M=64: rows in 16-lane halves of the four "
                    "32-lane sub-partitions; 2-CTA M=128: a '2x2' layout, the two N halves in lanes 0-63 and "
                    "64-127)",
    "cutlass_sm90": "CUTLASS include/cute/arch/mma_sm90_gmma.hpp (wgmma.mma_async m64nNk16/k8/k32)",
    "cutlass_sm80": "CUTLASS include/cute/arch/mma_sm80.hpp and mma_sm70.hpp (mma.sync m16n8k16, m8n8k4)",
    "cutlass_sm120": "CUTLASS include/cute/arch/mma_sm120.hpp: mma.sync.aligned.kind::f8f6f4.m16n8k32, "
                     "kind::mxf8f6f4.block_scale.scale_vec::1X.m16n8k32 (ue8m0), kind::mxf4nvf4.block_scale."
                     "scale_vec::2X/4X.m16n8k64 (ue8m0 / ue4m3)",
    "cutlass_bw_doc": "CUTLASS media/docs/cpp/blackwell_functionality.md: tcgen05.mma throughput per kind "
                      "(f8f6f4 and mxf8f6f4 2x, mxf4 and mxf4nvf4 4x the Hopper FP8 Tensor Core); 'Blackwell "
                      "SM120 GEMMs': no TMA multicast (cluster shape fixed to 1x1x1), TN layout only",
    "compiled_here": "bwkit.inspect.compile_triton on a CPU (triton 3.9): the same GEMM compiled for "
                     "sm_80, sm_90a, sm_100a, sm_120 (lab 01, step 2)",
}


# ---------------------------------------------------------------------------------------------- generations
@dataclass(frozen=True)
class TensorCoreGen:
    """One Tensor Core generation: its MMA instruction, where operands live; `sources` are `SOURCES` keys."""

    generation: str
    arch: str
    gpus: str
    instruction: str
    issued_by: str
    a_from: str
    b_from: str
    accumulator: str
    shapes: str
    kinds: str
    sources: tuple[str, ...] = field(default_factory=tuple)


GENERATIONS: list[TensorCoreGen] = [
    TensorCoreGen("Volta", "sm_70", "V100", "mma.sync (wmma)", "warp (32 threads)", "registers", "registers",
                  "registers", "m8n8k4", "f16 -> f16/f32", ("ptx_mma", "cutlass_sm80")),
    TensorCoreGen("Ampere", "sm_80", "A100", "mma.sync", "warp (32 threads)",
                  "registers (ldmatrix from smem)", "registers", "registers",
                  "m16n8k16 (f16/bf16), m16n8k8 (tf32), m16n8k32 (s8)",
                  "f16, bf16, tf32, s8, s4", ("ptx_mma", "cutlass_sm80", "compiled_here")),
    TensorCoreGen("Hopper", "sm_90a", "H100, H200", "wgmma.mma_async", "warpgroup (128 threads)",
                  "shared memory (descriptor) or registers", "shared memory (descriptor)", "registers",
                  "m64nNk16 (f16/bf16), m64nNk8 (tf32), m64nNk32 (fp8, s8); N = 8..256 step 8",
                  "f16, bf16, tf32, e4m3, e5m2, s8", ("ptx_wgmma", "cutlass_sm90", "compiled_here")),
    TensorCoreGen("Blackwell (datacenter)", "sm_100a", "B200, GB200", "tcgen05.mma", "one thread",
                  "shared memory (descriptor) or TMEM", "shared memory (descriptor)",
                  "Tensor Memory (TMEM, 128 x 512 x 32 bit per SM)",
                  "1 CTA: M 64/128, N 8..256 step 8; CTA pair: M 128/256, N 16..256 step 16; "
                  "K = 256 bits of operand (16 f16, 32 fp8/f8f6f4, 64 mxf4)",
                  "f16, tf32, f8f6f4, i8, mxf8f6f4, mxf4, mxf4nvf4 (scale factors in TMEM)",
                  ("ptx_tcgen05", "cutlass_sm100", "cutlass_bw_doc", "compiled_here")),
    TensorCoreGen("Blackwell (consumer)", "sm_120a", "RTX 5090", "mma.sync (block_scale kinds)",
                  "warp (32 threads)", "registers", "registers", "registers (no TMEM, no tcgen05)",
                  "m16n8k32 (f8f6f4, mxf8f6f4), m16n8k64 (mxf4nvf4)",
                  "f16, bf16, f8f6f4, mxf8f6f4, mxf4nvf4 (scale factors in registers)",
                  ("ptx_mma", "cutlass_sm120", "cutlass_bw_doc", "compiled_here")),
]


def generation_table(with_sources: bool = True) -> str:
    """The generations as a Markdown table (one row each); `with_sources` adds a column of `SOURCES` keys."""
    cols = ["generation", "arch", "instruction", "issued_by", "a_from", "b_from", "accumulator", "shapes",
            "kinds"]
    head = cols + (["sources"] if with_sources else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in GENERATIONS:
        row = [str(getattr(g, c)) for c in cols] + ([", ".join(g.sources)] if with_sources else [])
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def generation_of(target: str) -> str:
    """The generation's one-word name ("Ampere", "Hopper", "Blackwell", ...) of a target such as "sm_90a"."""
    if not isinstance(target, str):
        raise TypeError(f"generation_of takes a target string like 'sm_90a', got {type(target).__name__}")
    base = target.rstrip("af")
    for g in GENERATIONS:
        if g.arch.rstrip("af") == base:
            return g.generation.split()[0]
    raise ValueError(f"unknown target {target!r}; known: {', '.join(g.arch for g in GENERATIONS)}")


# The anonymous kernels of lab 01's exercise 01.6 (the same GEMM compiled for three targets).
MYSTERY_TARGETS: dict[str, str] = {"X": "sm_100a", "Y": "sm_80", "Z": "sm_90a"}

# fp16 MMA per target: (instruction, who issues it, M, N (0: the tile's N, at most 256), K per instruction)
MMA_TARGETS: dict[str, tuple[str, str, int, int, int]] = {
    "sm_80": ("mma.sync.aligned.m16n8k16", "warp", 16, 8, 16),
    "sm_90a": ("wgmma.mma_async.m64nNk16", "warpgroup", 64, 0, 16),
    "sm_100a": ("tcgen05.mma.cta_group::1.kind::f16", "one thread", 128, 0, 16),
    "sm_120": ("mma.sync.aligned.m16n8k16", "warp", 16, 8, 16),
}


def _check_mma_n(what: str, N: int) -> None:
    """One MMA instruction's N (wgmma, tcgen05; a whole tile's for mma.sync): a multiple of 8 up to 256."""
    if N % 8 or N > 256:
        raise ValueError(f"{what}: one MMA instruction has N a multiple of 8 up to 256 (a wider tile is several "
                         "MMAs)")


def mma_per_k_step(target: str, BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, *, num_warps: int = 4,
                   warps: tuple[int, int] = (2, 2)) -> int:
    """fp16 MMA instructions in one BLOCK_K step of one instruction stream (for mma.sync: one warp's stream).

    mma.sync (sm_80, sm_120): the `warps` = (warps_m, warps_n) grid tiles C and each warp issues
    (BLOCK_M/warps_m/16) x (BLOCK_N/warps_n/8) x (BLOCK_K/16) m16n8k16 (2x2 is Triton's grid for a 128x128
    tile on 4 warps). wgmma (sm_90a): each warpgroup (4 warps) takes BLOCK_M/warpgroups rows in m64 x BLOCK_N
    instructions. tcgen05 (sm_100a): one thread issues M = min(BLOCK_M, 128) x N = BLOCK_N instructions.
    Lab 01 (step 4) checks these counts against the PTX compiled on a CPU.
    """
    if target not in MMA_TARGETS:
        raise ValueError(f"mma_per_k_step: unknown target {target!r}; targets: {', '.join(MMA_TARGETS)}")
    for name, v in (("BLOCK_M", BLOCK_M), ("BLOCK_N", BLOCK_N), ("BLOCK_K", BLOCK_K), ("num_warps", num_warps)):
        _pos_int(f"mma_per_k_step: {name}", v)
    _, who, m, n, k = MMA_TARGETS[target]
    if BLOCK_K % k:
        raise ValueError(f"mma_per_k_step: BLOCK_K={BLOCK_K} is not a multiple of the instruction's K={k}")
    k_steps = BLOCK_K // k
    if who == "warp":
        if not isinstance(warps, (tuple, list)) or len(warps) != 2:
            raise ValueError(f"mma_per_k_step: warps must be a (warps_m, warps_n) pair, got {warps!r}")
        wm, wn = warps
        _pos_int("mma_per_k_step: warps_m", wm), _pos_int("mma_per_k_step: warps_n", wn)
        if wm * wn != num_warps:
            raise ValueError(f"mma_per_k_step: a {wm}x{wn} warp grid is not {num_warps} warps")
        if BLOCK_M % (wm * m) or BLOCK_N % (wn * n):
            raise ValueError(f"mma_per_k_step: a {BLOCK_M}x{BLOCK_N} tile does not split into {wm}x{wn} warps "
                             f"of m{m}n{n} instructions")
        return (BLOCK_M // wm // m) * (BLOCK_N // wn // n) * k_steps
    _check_mma_n(f"mma_per_k_step: BLOCK_N={BLOCK_N}", BLOCK_N)
    if who == "warpgroup":
        groups = num_warps // 4
        if num_warps % 4 or BLOCK_M % (groups * m):
            raise ValueError(f"mma_per_k_step: {num_warps} warps ({num_warps / 4:g} warpgroups) cannot split "
                             f"BLOCK_M={BLOCK_M} into m{m} instructions")
        return BLOCK_M // groups // m * k_steps
    if BLOCK_M != 64 and BLOCK_M % 128:
        raise ValueError(f"mma_per_k_step: BLOCK_M={BLOCK_M} must be 64 or a multiple of 128 for tcgen05.mma")
    return max(1, BLOCK_M // m) * k_steps


# ------------------------------------------------------------------------------------------ kinds and shapes
ELEMENT_BITS = {"f16": 16, "bf16": 16, "tf32": 32, "e4m3": 8, "e5m2": 8, "e2m3": 6, "e3m2": 6, "e2m1": 4,
                "s8": 8}


@dataclass(frozen=True)
class KindSpec:
    """One `.kind` of tcgen05.mma: element types, K per instruction, scale factors, legal M/N per CTA group.

    `shapes[cta_group]` maps M to (N_min, N_step) or (N_min, N_step, extra Ns); N runs from N_min to 256 in
    steps of N_step (plus the extras, e.g. N=8 for kind::i8).
    `scales` lists the legal (sf_vec, sf_format) pairs; empty for kinds without block scaling.
    """

    name: str
    elements: tuple[str, ...]
    k: int
    shapes: dict[int, dict[int, tuple[int, int]]]
    scales: tuple[tuple[int, str], ...] = ()
    modelled: bool = True
    note: str = ""


_DENSE = {1: {64: (8, 8), 128: (8, 8)}, 2: {128: (16, 16), 256: (16, 16)}}
KINDS: dict[str, KindSpec] = {
    "f16": KindSpec("f16", ("f16", "bf16"), 16, _DENSE),
    "tf32": KindSpec("tf32", ("tf32",), 8, _DENSE, modelled=False, note="not modelled (TF32 rounding)"),
    "f8f6f4": KindSpec("f8f6f4", ("e4m3", "e5m2", "e2m3", "e3m2", "e2m1"), 32, _DENSE,
                       note="6- and 4-bit elements sit in 8-bit containers in shared memory, so K stays 32 "
                            "and FP4 runs at the FP8 rate"),
    "i8": KindSpec("i8", ("s8", "u8"), 32,
                   {1: {64: (16, 16, (8,)), 128: (16, 16, (8,))}, 2: {128: (32, 32), 256: (32, 32)}},
                   modelled=False, note="integer kind, not modelled; shapes from CUTLASS's SM100_MMA_S8 atoms"),
    "mxf8f6f4": KindSpec("mxf8f6f4", ("e4m3", "e5m2", "e2m3", "e3m2", "e2m1"), 32,
                         {1: {128: (8, 8)}, 2: {256: (16, 16)}}, ((32, "ue8m0"),),
                         note="CUTLASS's 2-CTA MXF8F6F4 atom asserts M = 256; FP4 in byte containers runs at "
                              "the FP8 rate (only mxf4/mxf4nvf4 reach the FP4 peak)"),
    "mxf4": KindSpec("mxf4", ("e2m1",), 64, {1: {128: (8, 8)}, 2: {128: (16, 16), 256: (16, 16)}},
                     ((32, "ue8m0"),)),
    "mxf4nvf4": KindSpec("mxf4nvf4", ("e2m1",), 64, {1: {128: (8, 8)}, 2: {128: (16, 16), 256: (16, 16)}},
                         ((32, "ue8m0"), (16, "ue8m0"), (16, "ue4m3")),
                         note="block32 = MXFP4 (ue8m0); block16 with ue4m3 = NVFP4"),
}
MODELLED_KINDS = tuple(k for k, s in KINDS.items() if s.modelled)


def _kind(kind: str) -> KindSpec:
    if kind not in KINDS:
        raise ValueError(f"unknown tcgen05 kind {kind!r}; kinds: {', '.join(KINDS)}")
    return KINDS[kind]


def _cta_group(cta_group: int) -> int:
    if cta_group not in (1, 2):
        raise ValueError(f"cta_group must be 1 (one CTA) or 2 (a CTA pair), got {cta_group!r}")
    return cta_group


def _rule(rule: tuple) -> tuple[int, int, tuple[int, ...]]:
    """(N_min, N_step, extra Ns) of one `KindSpec.shapes` rule, (N_min, N_step) or (N_min, N_step, extra Ns)."""
    return rule[0], rule[1], tuple(rule[2]) if len(rule) > 2 else ()


def _ns(rule: tuple) -> list[int]:
    """Legal N of one (N_min, N_step[, extra Ns]) rule: N_min..256 in steps of N_step, plus the extras."""
    n0, step, extra = _rule(rule)
    return sorted(set(range(n0, 257, step)) | set(extra))


def legal_shapes(kind: str, cta_group: int = 1) -> list[tuple[int, int, int]]:
    """Every legal (M, N, K) of one dense tcgen05.mma of `kind` issued by `cta_group` (1 or 2) CTAs."""
    spec, g = _kind(kind), _cta_group(cta_group)
    return [(m, n, spec.k) for m, rule in spec.shapes[g].items() for n in _ns(rule)]


def describe_shapes(kind: str, cta_group: int = 1) -> str:
    """Legal shapes of `kind` in words, e.g. '64xNx16, 128xNx16 with N = 8, 16, ..., 256 (step 8)'."""
    spec, g = _kind(kind), _cta_group(cta_group)
    parts = []
    for m, rule in spec.shapes[g].items():
        n0, step, extra = _rule(rule)
        extra_ns = "".join(f"{n} or " for n in extra)
        parts.append(f"{m}xNx{spec.k} with N = {extra_ns}{n0}, {n0 + step}, ..., 256 (step {step})")
    return f"kind::{kind}, cta_group::{g}: " + "; ".join(parts)


def check_shape(kind: str, M: int, N: int, K: int, cta_group: int = 1) -> None:
    """Raise ValueError (listing the legal shapes of `kind`) unless M x N x K is one tcgen05.mma of `kind`."""
    for name, v in (("M", M), ("N", N), ("K", K)):
        _int_index(f"check_shape: {name}", v)       # 128.0 == 128 would pass the lookup below
    if (M, N, K) not in legal_shapes(kind, cta_group):
        raise ValueError(f"{M}x{N}x{K} is not a legal tcgen05.mma shape for kind::{kind} with "
                         f"cta_group::{cta_group}. Legal shapes: {describe_shapes(kind, cta_group)}")


def k_per_instruction(kind: str) -> int:
    """K of one tcgen05.mma of `kind`: 256 bits of operand per row (16 f16, 32 8-bit containers, 64 fp4)."""
    return _kind(kind).k


# ---------------------------------------------------------------------------------------------- Tensor Memory
TMEM_LANES = 128
TMEM_COLUMNS = 512
TMEM_BYTES = TMEM_LANES * TMEM_COLUMNS * 4  # 256 KiB per SM


def _int_index(name: str, v) -> None:
    """ValueError unless `v` is an int (not a bool or a float: a size or index is a whole number)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {v!r}")


def _pos_int(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return v


def accumulator_columns(M: int, N: int, *, cta_group: int = 1, acc_bits: int = 32) -> int:
    """TMEM columns one CTA needs for an M x N accumulator of one MMA (fp32/int32 `acc_bits`=32, f16 = 16).

    Per CTA the accumulator has M/cta_group rows. 128 rows fill the 128 lanes, so N 32-bit elements take N
    columns; 64 rows use half the lanes: one CTA (M=64) still takes N columns (rows in 16-lane halves of each
    sub-partition), a CTA pair with M=128 folds the two N halves onto lanes 0-63 / 64-127 (N/2 columns).
    16-bit accumulators pack two per column.
    """
    _pos_int("M", M), _pos_int("N", N)
    g = _cta_group(cta_group)
    _check_mma_n(f"N={N}", N)
    if acc_bits not in (16, 32):
        raise ValueError(f"acc_bits must be 32 (f32/s32 accumulator) or 16 (f16), got {acc_bits!r}")
    rows = M // g
    if M % g or rows not in (64, 128):
        pair = " (M=256 needs a CTA pair: cta_group=2)" if g == 1 and M == 256 else ""
        raise ValueError(f"M={M} with cta_group::{g} gives {M / g:g} rows per CTA; tcgen05 accumulators "
                         f"have 64 or 128 rows per CTA (M in {{64, 128}} for one CTA, {{128, 256}} for two)"
                         f"{pair}")
    return _acc_columns(rows, N, g, acc_bits)


def _acc_columns(rows: int, N: int, g: int, acc_bits: int = 32) -> int:
    """`accumulator_columns` of checked inputs: `rows` (64 or 128) per CTA of `g` CTAs, N columns."""
    cols = N // 2 if (rows == 64 and g == 2) else N
    return math.ceil(cols * acc_bits / 32)


def scale_factor_columns(rows: int, block_k: int, sf_vec: int) -> int:
    """Lower bound on TMEM columns for the scale factors of a `rows` x `block_k` operand tile (1 byte each).

    ceil(rows/128) lane groups x ceil(block_k / sf_vec / 4) columns (four 8-bit scales per 32-bit cell). Real
    layouts (CUTLASS's tcgen05.cp copies, duplicated across sub-partitions) can round this up further.
    """
    _pos_int("rows", rows), _pos_int("block_k", block_k), _pos_int("sf_vec", sf_vec)
    if block_k % sf_vec:
        raise ValueError(f"block_k={block_k} must be a multiple of sf_vec={sf_vec}")
    return math.ceil(rows / TMEM_LANES) * math.ceil(block_k // sf_vec / 4)


def round_alloc(ncols: int, minimum: int = 32) -> int:
    """tcgen05.alloc's rounding without its 512-column cap or checks: the next power of two >= `ncols`, at least
    `minimum` (32; a request below 1 counts as 1). `alloc_columns` is the checked, capped rule; the uncapped
    one serves models of what a mistaken count would allocate."""
    return max(minimum, 1 << (max(ncols, 1) - 1).bit_length())


def alloc_columns(ncols: int) -> int:
    """Columns `tcgen05.alloc` reserves for a request of `ncols`: a power of two, at least 32, at most 512."""
    _pos_int("ncols", ncols)
    if ncols > TMEM_COLUMNS:
        raise ValueError(f"{ncols} columns requested; Tensor Memory has {TMEM_COLUMNS} columns per SM")
    return round_alloc(ncols)


@dataclass(frozen=True)
class TmemBudget:
    """What a tile configuration asks of Tensor Memory (columns of 128 lanes x 32 bit)."""

    acc_columns: int
    acc_buffers: int
    sf_columns: int
    needed: int
    allocated: int
    fits: bool

    @property
    def free(self) -> int:
        """Columns left of the 512 after the (power-of-two) allocation; negative when it does not fit."""
        return TMEM_COLUMNS - self.allocated if self.fits else TMEM_COLUMNS - self.needed

    def summary(self) -> str:
        """One line: accumulator x buffers + scale factors = needed -> allocated, fits or not."""
        if self.fits:
            alloc = f"alloc {self.allocated} of {TMEM_COLUMNS}: fits"
        else:   # tcgen05.alloc takes a power of two: say which one it would need
            alloc = f"would need alloc {round_alloc(self.needed)} > {TMEM_COLUMNS}: does NOT fit"
        return (f"{self.acc_columns} cols x {self.acc_buffers} accumulator buffer(s) + {self.sf_columns} "
                f"cols of scale factors = {self.needed} -> {alloc}")


def tmem_budget(M: int, N: int, *, acc_buffers: int = 1, cta_group: int = 1, kind: str = "f16",
                block_k: int | None = None, sf_vec: int | None = None, sf_stages: int = 1) -> TmemBudget:
    """TMEM columns per CTA for `acc_buffers` M x N fp32 accumulators plus (block-scaled kinds) scale factors.

    `block_k` and `sf_vec` size the scale factors of A (M/cta_group rows) and B (N rows) for `sf_stages`
    K-blocks; `sf_vec` defaults to the kind's first legal vector size. A kind without scale factors (f16, tf32,
    f8f6f4, i8) has none to size: it ignores `block_k` and refuses an `sf_vec`. Double-buffering the accumulator
    (`acc_buffers=2`) lets the epilogue drain one tile while the MMA fills the next. Raises ValueError for an M
    no MMA of `kind` has with that `cta_group` (e.g. M=256 on one CTA) and for N off the kind's N step. N may
    exceed one MMA's 256 (a tile of several MMAs side by side); a budget over the 512 columns does not fit, and its
    summary names the power-of-two allocation it would need.
    """
    spec = _kind(kind)
    _pos_int("M", M), _pos_int("N", N)
    _pos_int("acc_buffers", acc_buffers), _pos_int("sf_stages", sf_stages)
    if sf_vec is not None and not spec.scales:
        raise ValueError(f"tmem_budget: kind::{kind} has no scale factors, so sf_vec={sf_vec!r} sizes nothing; "
                         f"block-scaled kinds: {', '.join(k for k, s in KINDS.items() if s.scales)}")
    g = _cta_group(cta_group)
    if M not in spec.shapes[g]:
        legal = ", ".join(str(m) for m in spec.shapes[g])
        pair = "; M=256 needs a CTA pair (cta_group=2)" if g == 1 and 256 in spec.shapes[2] and M == 256 else ""
        raise ValueError(f"tmem_budget: no tcgen05.mma of kind::{kind} with cta_group::{g} has M={M} "
                         f"(legal M: {legal}){pair}")
    _, step, extra = _rule(spec.shapes[g][M])
    if N % step and N not in extra:
        raise ValueError(f"tmem_budget: N={N} is not a multiple of {step}, the N step of kind::{kind} with "
                         f"M={M}, cta_group::{g} (a tile wider than 256 is several MMAs of N <= 256)")
    acc = _acc_columns(M // g, N, g)   # every M of spec.shapes[g] has 64 or 128 rows per CTA
    sf = 0
    if spec.scales:
        bk = block_k if block_k is not None else spec.k
        vec = sf_vec if sf_vec is not None else spec.scales[0][0]
        legal = sorted({v for v, _ in spec.scales})
        if vec not in legal:
            raise ValueError(f"sf_vec={vec} is not legal for kind::{kind}; legal: {legal}")
        sf = sf_stages * (scale_factor_columns(M // g, bk, vec) + scale_factor_columns(N, bk, vec))
    needed = acc * acc_buffers + sf
    fits = needed <= TMEM_COLUMNS
    return TmemBudget(acc, acc_buffers, sf, needed, alloc_columns(needed) if fits else needed, fits)


class TmemAllocator:
    """A model of one SM's Tensor Memory allocator: `alloc(ncols)` -> first column, `dealloc(start)`.

    Follows the tcgen05.alloc rules (a power of two >= 32 columns, 512 in all); placement is first fit (the
    hardware's policy is not documented, so only capacity and sizes are meaningful).
    """

    def __init__(self) -> None:
        self.blocks: dict[int, tuple[int, str]] = {}  # start column -> (columns, name)

    @property
    def used(self) -> int:
        """Columns currently allocated."""
        return sum(n for n, _ in self.blocks.values())

    def alloc(self, ncols: int, name: str = "") -> int:
        """Reserve `ncols` columns (rounded up like tcgen05.alloc); return the first column, raise if full."""
        size = alloc_columns(ncols)
        start = 0
        for s in sorted(self.blocks):
            if s - start >= size:
                break
            start = max(start, s + self.blocks[s][0])
        if start + size > TMEM_COLUMNS:
            taken = ", ".join(f"{nm or '?'}: cols {s}-{s + n - 1}"
                              for s, (n, nm) in sorted(self.blocks.items()))
            raise MemoryError(f"TMEM full: cannot allocate {size} columns (asked {ncols}); {self.used} of "
                              f"{TMEM_COLUMNS} in use ({taken}). On the GPU tcgen05.alloc would block.")
        self.blocks[start] = (size, name)
        return start

    def dealloc(self, start: int) -> None:
        """Free the block that starts at column `start`."""
        if start not in self.blocks:
            raise ValueError(f"no TMEM block starts at column {start}; blocks start at {sorted(self.blocks)}")
        del self.blocks[start]


def tmem_address(m: int, n: int, M: int, N: int, cta_group: int = 1) -> tuple[int, int, int]:
    """(cta, lane, column) of element (m, n) of an M x N fp32 accumulator, relative to its first column."""
    accumulator_columns(M, N, cta_group=cta_group)  # validates M/N/cta_group
    _int_index("tmem_address: m", m), _int_index("tmem_address: n", n)
    if not (0 <= m < M and 0 <= n < N):
        raise ValueError(f"element ({m}, {n}) is outside the {M}x{N} accumulator")
    rows = M // cta_group
    cta, r = divmod(m, rows)
    if rows == 128:
        return cta, r, n
    if cta_group == 1:  # M = 64: 16 rows per 32-lane sub-partition
        return 0, (r % 16) + 32 * (r // 16), n
    half = N // 2  # CTA pair, M = 128: the two N halves on lanes 0-63 and 64-127
    return cta, r + 64 * (n // half), n % half


def tmem_image(d: torch.Tensor, cta_group: int = 1) -> list[torch.Tensor]:
    """An M x N accumulator as it sits in TMEM: one (128 lanes, columns) fp32 tensor per CTA, NaN = unused."""
    if not isinstance(d, torch.Tensor) or d.dim() != 2:
        raise TypeError("tmem_image takes a 2-D tensor D (M x N)")
    M, N = d.shape
    ncols = accumulator_columns(M, N, cta_group=cta_group)
    imgs = [torch.full((TMEM_LANES, ncols), float("nan")) for _ in range(cta_group)]
    for m in range(M):
        for n in range(N):
            cta, lane, col = tmem_address(m, n, M, N, cta_group)
            imgs[cta][lane, col] = float(d[m, n])
    return imgs


# ------------------------------------------------------------------------------------------ functional model
_TORCH_FMT = {}


def _torch_fmts() -> dict:
    if not _TORCH_FMT:
        _TORCH_FMT.update({torch.float16: "f16", torch.bfloat16: "bf16", torch.float8_e4m3fn: "e4m3",
                           torch.float8_e5m2: "e5m2"})
    return _TORCH_FMT


def _decode(codes: torch.Tensor, fmt: str) -> torch.Tensor:
    """Element or scale codes -> float64 values, bit-exact, through bwkit.formats."""
    from bwkit import formats

    return formats.decode(codes, fmt).to(torch.float64)


def _representable(vals: torch.Tensor, fmt: str) -> torch.Tensor:
    """Boolean mask: which float64 `vals` are exactly values of `fmt`."""
    half = {"f16": torch.float16, "bf16": torch.bfloat16}.get(fmt)
    if half is not None:                      # 16-bit formats: a value is representable if it survives a round trip
        return vals.to(half).to(torch.float64) == vals
    if fmt == "ue8m0":
        mant, exp = torch.frexp(vals)
        return (mant == 0.5) & (exp >= -126) & (exp <= 128)
    n = 128 if fmt == "ue4m3" else 2 ** ELEMENT_BITS[fmt]
    grid = _decode(torch.arange(n, dtype=torch.uint8), fmt)
    return torch.isin(vals, grid[torch.isfinite(grid)])


def _operand(x: torch.Tensor, fmt: str | None, name: str, spec: KindSpec) -> tuple[torch.Tensor, str]:
    """Return (float64 values, element format) of an A or B operand, validating it against the kind."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise TypeError(f"{name} must be a 2-D torch.Tensor, got {type(x).__name__}")
    tf = _torch_fmts().get(x.dtype)
    if tf is not None:
        if fmt is not None and fmt != tf:
            raise ValueError(f"{name} has dtype {x.dtype} (format {tf}) but {name[0].lower()}_fmt={fmt!r}")
        fmt = tf
    if fmt is None:
        raise TypeError(f"{name} has dtype {x.dtype}: pass torch.float16/bfloat16/float8 tensors, or uint8 "
                        f"codes / float values with {name[0].lower()}_fmt= one of {list(spec.elements)}")
    if fmt not in spec.elements:
        raise ValueError(f"kind::{spec.name} takes {name} elements in {list(spec.elements)}, got {fmt!r}")
    if tf is not None:
        vals = x.to(torch.float64)
    elif x.dtype == torch.uint8:
        if ELEMENT_BITS[fmt] > 8:
            raise TypeError(f"{name}: {fmt} elements are 16-bit, not uint8 codes: pass a float16/bfloat16 tensor "
                            f"or float values with {name[0].lower()}_fmt={fmt!r}")
        if int(x.max()) >= 2 ** ELEMENT_BITS[fmt]:
            raise ValueError(f"{name}: code {int(x.max())} does not fit the {ELEMENT_BITS[fmt]}-bit "
                             f"format {fmt}")
        vals = _decode(x, fmt)
    elif x.is_floating_point():
        vals = x.to(torch.float64)
        ok = _representable(vals, fmt)
        if not bool(ok.all()):
            bad = vals[~ok][0].item()
            fix = ("pass a float16/bfloat16 tensor" if ELEMENT_BITS[fmt] > 8 else
                   "quantize it first (bwkit.formats.quantize) or pass codes")
            raise ValueError(f"{name}: value {bad:g} is not representable in {fmt}; {fix}")
    else:
        raise TypeError(f"{name}: dtype {x.dtype} is not an element type (use uint8 codes or floats)")
    if not bool(torch.isfinite(vals).all()):
        raise ValueError(f"{name} holds NaN/Inf")
    return vals, fmt


def _scales(sf: torch.Tensor | None, rows: int, K: int, vec: int, sf_fmt: str, name: str) -> torch.Tensor:
    if sf is None:
        raise ValueError(f"{name} is required for block-scaled kinds: one scale per row per {vec} "
                         f"elements of K, shape ({rows}, {K // vec})")
    if not isinstance(sf, torch.Tensor) or tuple(sf.shape) != (rows, K // vec):
        got = tuple(sf.shape) if isinstance(sf, torch.Tensor) else type(sf).__name__
        raise ValueError(f"{name} must have shape ({rows}, {K // vec}) (rows x K/{vec}), got {got}")
    if sf.dtype == torch.uint8:
        vals = _decode(sf, sf_fmt)
    elif sf.is_floating_point():
        vals = sf.to(torch.float64)
        ok = _representable(vals, sf_fmt)
        if not bool(ok.all()):
            raise ValueError(f"{name}: value {vals[~ok][0].item():g} is not a {sf_fmt} scale")
    else:
        raise TypeError(f"{name}: dtype {sf.dtype}; pass uint8 {sf_fmt} codes or float values")
    if not bool(torch.isfinite(vals).all()):
        raise ValueError(f"{name} holds NaN scale(s) (code 0xFF in ue8m0)")
    return vals.repeat_interleave(vec, dim=1)  # rows x K


def tcgen05_mma(a: torch.Tensor, b: torch.Tensor, *, kind: str, d: torch.Tensor | None = None,
                sf_a: torch.Tensor | None = None, sf_b: torch.Tensor | None = None,
                a_fmt: str | None = None, b_fmt: str | None = None, sf_vec: int | None = None,
                sf_fmt: str | None = None, cta_group: int = 1) -> torch.Tensor:
    """Functional model of one `tcgen05.mma.cta_group::{1,2}.kind::<kind>`: return D = A @ B (+ d) in fp32.

    a: (M, K) and b: (K, N) operand tiles of one legal shape (`legal_shapes(kind, cta_group)`): torch
    fp16/bf16 (kind f16), torch float8 tensors, uint8 element codes with `a_fmt`/`b_fmt` ('e4m3', 'e5m2',
    'e2m3', 'e3m2', 'e2m1'; one code per byte), or float values already on that format's grid.
    Block-scaled kinds (mxf8f6f4, mxf4, mxf4nvf4) need sf_a: (M, K/sf_vec) and sf_b: (N, K/sf_vec) scales
    (uint8 codes or values) in `sf_fmt` ('ue8m0' or, for mxf4nvf4 with sf_vec=16, 'ue4m3'). d: (M, N) fp32
    accumulator, read when given (enable_input_d). Returns D as a logical M x N fp32 tensor;
    `tmem_image(D)` shows where it sits in TMEM.
    """
    spec = _kind(kind)
    if not spec.modelled:
        raise ValueError(f"kind::{kind} is {spec.note}; modelled kinds: {', '.join(MODELLED_KINDS)}")
    g = _cta_group(cta_group)
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.dim() != 2 or b.dim() != 2:
        raise TypeError("a and b must be 2-D torch tensors: a is M x K, b is K x N")
    (M, K), (K2, N) = a.shape, b.shape
    if K != K2:
        raise ValueError(f"a is {M}x{K} but b is {K2}x{N}: the K dimensions differ (b must be K x N)")
    check_shape(kind, M, N, K, g)
    av, a_fmt = _operand(a, a_fmt, "A", spec)
    bv, b_fmt = _operand(b, b_fmt, "B", spec)
    if kind == "f16" and a_fmt != b_fmt:
        raise ValueError(f"kind::f16 needs A and B of the same type, got {a_fmt} and {b_fmt}")
    if spec.scales:
        vec = sf_vec if sf_vec is not None else spec.scales[0][0]
        sfmt = sf_fmt if sf_fmt is not None else next((f for v, f in spec.scales if v == vec), "ue8m0")
        if (vec, sfmt) not in spec.scales:
            raise ValueError(f"kind::{kind} takes (sf_vec, sf_fmt) in {list(spec.scales)}, "
                             f"got ({vec}, {sfmt!r})")
        av = av * _scales(sf_a, M, K, vec, sfmt, "sf_a")
        bv = bv * _scales(sf_b, N, K, vec, sfmt, "sf_b").T
    elif sf_a is not None or sf_b is not None or sf_vec is not None or sf_fmt is not None:
        raise ValueError(f"kind::{kind} takes no scale factors; block-scaled kinds: "
                         f"{', '.join(k for k, s in KINDS.items() if s.scales)}")
    out = av @ bv
    if d is not None:
        if not isinstance(d, torch.Tensor) or tuple(d.shape) != (M, N):
            raise ValueError(f"d must be the {M}x{N} fp32 accumulator, got "
                             f"{tuple(d.shape) if isinstance(d, torch.Tensor) else type(d).__name__}")
        out = out + d.to(torch.float64)
    return out.to(torch.float32)


def reference_mma(a: torch.Tensor, b: torch.Tensor, sf_a: torch.Tensor | None = None,
                  sf_b: torch.Tensor | None = None, sf_vec: int = 32) -> torch.Tensor:
    """Plain torch reference in float64: (a * sf_a per block) @ (b * sf_b per block); a (M, K), b (K, N);
    sf_a (M, K / sf_vec), sf_b (N, K / sf_vec)."""
    for name, t in (("a", a), ("b", b), ("sf_a", sf_a), ("sf_b", sf_b)):
        if (t is not None or name in ("a", "b")) and not isinstance(t, torch.Tensor):
            raise TypeError(f"reference_mma: {name} must be a torch.Tensor, got {type(t).__name__}")
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"reference_mma: a must be M x K and b K x N, got {tuple(a.shape)} and {tuple(b.shape)}")
    (M, K), N = a.shape, b.shape[1]
    _pos_int("reference_mma: sf_vec", sf_vec)
    if (sf_a is not None or sf_b is not None) and K % sf_vec:
        raise ValueError(f"reference_mma: K = {K} is not a multiple of sf_vec = {sf_vec} (one scale per block)")
    for name, t, rows in (("sf_a", sf_a, M), ("sf_b", sf_b, N)):
        if t is not None and tuple(t.shape) != (rows, K // sf_vec):
            raise ValueError(f"reference_mma: {name} must be ({rows}, K / sf_vec) = ({rows}, {K // sf_vec}) "
                             f"(one scale per {sf_vec} elements of K), got {tuple(t.shape)}")
    av, bv = a.to(torch.float64), b.to(torch.float64)
    if sf_a is not None:
        av = av * sf_a.to(torch.float64).repeat_interleave(sf_vec, dim=1)
    if sf_b is not None:
        bv = bv * sf_b.to(torch.float64).repeat_interleave(sf_vec, dim=1).T
    return av @ bv
