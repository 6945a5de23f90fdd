"""The Gluon ladder's CPU side: tile rules and budgets, the mbarrier ring model, and readers of compiled output.

See `bwkit.gluon_gemm` for the overview; this module imports no Gluon and compiles nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import NamedTuple

from bwkit import hw
from bwkit import inspect as bwi
from bwkit import pipeline as pl
from bwkit import tensorcores as tc
from bwkit.kit.args import as_names, check_flag
from bwkit.kit.args import check_number as _check_arg
from bwkit.ladder_model import epilogue_ns
from bwkit.pipeline import SMEM_BYTES_PER_SM

__all__ = [
    "GluonConfig", "Step", "STEP_NAMES", "SMEM_LIMIT", "MBARRIER_BYTES", "SF_VEC", "check_config", "smem_bytes",
    "max_stages",
    "tmem_columns", "ws_budget", "ring_phases", "RingResult", "simulate_ring", "RING_SCENARIOS", "step_timeline",
    "kernel_facts",
    "facts_table", "tmem_alloc_columns", "resource_usage", "mma_waited", "which_step",
]

STEP_NAMES = ("sync", "pipelined", "ws", "nvfp4", "wgmma")   # the ladder, in order (`STEPS` in `kernels`)
SMEM_LIMIT = SMEM_BYTES_PER_SM      # 232,448 B: the most dynamic shared memory one CTA may use on sm_90 / sm_100
MBARRIER_BYTES = 8                  # one mbarrier is a 64-bit word in shared memory
SF_VEC = 16                         # NVFP4: one UE4M3 scale per 16 FP4 values along K
_BYTES = {"bf16": 2, "fp16": 2}
# Register limits of step ws, as Triton 3.9 and ptxas take them. Triton writes `maxnreg` on the module
# (ttg.maxnreg, PTX .maxnreg) and ConvertWarpSpecializeToLLVM.cpp derives every partition's setmaxnreg from it;
# NVVM's SetMaxRegisterOp verifier then refuses a count outside [24, 256] ("'nvvm.setmaxregister' op new
# register size must be in between 24 to 256"), so maxnreg=257 fails with "PassManager::run failed" while 256
# compiles (checked with triton 3.9.0). setmaxnreg's operand itself (PTX ISA, setmaxnreg) is a multiple of 8
# in [24, 256]: WORKER_REGS.
MIN_REGS, MAX_REGS = 24, 256


@dataclass(frozen=True)
class GluonConfig:
    """A tile configuration. Steps use what they need (sync: no STAGES; ACC_BUFFERS and the registers: ws)."""

    BLOCK_M: int = 128
    BLOCK_N: int = 128
    BLOCK_K: int = 64
    STAGES: int = 4
    EPI_N: int = 64           # columns per epilogue slice: one tcgen05.ld and one TMA store each
    ACC_BUFFERS: int = 1      # ws: TMEM accumulators (2 = the epilogue of tile t overlaps the MMAs of t + 1)
    num_warps: int = 4        # warps of the (default / epilogue) partition: 4 = one thread per accumulator row
    maxnreg: int = 128        # ws: registers per thread the whole CTA is compiled for (Triton's `maxnreg`)
    WORKER_REGS: int = 24     # ws: registers per thread of the loader and MMA warps (setmaxnreg.dec)

    def __post_init__(self) -> None:
        """Every field a positive int (the models divide by them); which values a step takes is `check_config`'s."""
        for f in fields(self):
            _check_arg(f"GluonConfig.{f.name}", getattr(self, f.name))


class Step(NamedTuple):
    """One rung of the ladder: its name, target, compile function, default tile and what it adds."""

    name: str
    target: str
    compile: Callable
    config: GluonConfig
    adds: str


# ------------------------------------------------------------------------------------------------ CPU models
def _scaled(step: str) -> bool:
    return step == "nvfp4"


def _check_step(step: str, config: GluonConfig, dtype: str) -> None:
    """ValueError (TypeError for the config) unless `step`, `config` and `dtype` name things the models know."""
    if step not in STEP_NAMES:
        raise ValueError(f"unknown step {step!r}; steps: {', '.join(STEP_NAMES)}")
    if not isinstance(config, GluonConfig):
        raise TypeError(f"config must be a GluonConfig, got {type(config).__name__}")
    if not isinstance(dtype, str) or dtype not in _BYTES:
        raise ValueError(f"dtype must be one of {', '.join(_BYTES)}, got {dtype!r}")


def smem_bytes(step: str, config: GluonConfig, dtype: str = "bf16") -> int:
    """Shared memory a step's kernel allocates: its buffers plus 8 B per mbarrier (every buffer lives all along).

    Stage = A slice + B slice (+ their scales for NVFP4) + a ready and an empty mbarrier; plus the epilogue tile
    (BLOCK_M x EPI_N of C; the whole BLOCK_M x BLOCK_N tile for wgmma, whose accumulator is in registers) and the
    other barriers. The compiler adds a little for warp specialization (see `kernel_facts`).
    """
    _check_step(step, config, dtype)
    c = config
    eb = 0.5 if _scaled(step) else _BYTES[dtype]
    ab = int((c.BLOCK_M + c.BLOCK_N) * c.BLOCK_K * eb)
    if _scaled(step):
        ab += (c.BLOCK_M + c.BLOCK_N) * c.BLOCK_K // SF_VEC
    epi = c.BLOCK_M * (c.BLOCK_N if step == "wgmma" else c.EPI_N) * 2
    if step == "sync":
        return ab + epi + 2 * MBARRIER_BYTES
    bars = 2 * c.STAGES + {"pipelined": 1, "nvfp4": 1, "ws": 2 * c.ACC_BUFFERS, "wgmma": 0}[step]
    return c.STAGES * ab + epi + bars * MBARRIER_BYTES


def max_stages(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, elem_bytes: float, fixed_bytes: int,
               limit: int = SMEM_LIMIT) -> int:
    """Ring slots that fit: (limit - fixed_bytes) // (A slice + B slice + two 8-byte mbarriers per slot).

    0 when the fixed part leaves less than one slot; ValueError when the fixed part alone exceeds `limit`.
    """
    for name, v in (("BLOCK_M", BLOCK_M), ("BLOCK_N", BLOCK_N), ("BLOCK_K", BLOCK_K), ("limit", limit)):
        _check_arg(name, v)
    _check_arg("elem_bytes", elem_bytes, integer=False)
    _check_arg("fixed_bytes", fixed_bytes, zero_ok=True)
    if fixed_bytes > limit:
        raise ValueError(f"fixed_bytes={fixed_bytes:,} exceeds the {limit:,} B budget of one CTA: the fixed part "
                         f"(epilogue tile, other barriers) must fit before any ring slot")
    stage = int((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes) + 2 * MBARRIER_BYTES
    return (limit - fixed_bytes) // stage


def tmem_columns(BLOCK_N: int, BLOCK_K: int, acc_buffers: int = 1, nvfp4: bool = False) -> int:
    """TMEM columns the kernel's tcgen05.alloc takes: fp32 accumulators (+ NVFP4 scales), a power of two >= 32.

    Raises ValueError above 512 columns. The rules are `bwkit.tensorcores.tmem_budget` (lab 01).
    """
    check_flag("tmem_columns: nvfp4", nvfp4)
    b = tc.tmem_budget(128, BLOCK_N, acc_buffers=acc_buffers, kind="mxf4nvf4" if nvfp4 else "f16",
                       block_k=BLOCK_K, sf_vec=SF_VEC if nvfp4 else None)
    if not b.fits:
        raise ValueError(f"TMEM: {b.summary()}: lower BLOCK_N or ACC_BUFFERS")
    return b.allocated


def ws_budget(maxnreg: int, default_warps: int, worker_regs: int) -> tuple[int, int]:
    """(threads per CTA, registers per thread of the default partition while the workers run) of step ``ws``.

    The two 1-warp workers share one warpgroup (setmaxnreg acts on whole warpgroups of 4 warps), so the CTA has
    default_warps + 4 warps. Triton compiles it for `maxnreg` registers per thread and moves registers between
    partitions at run time: the workers drop to `worker_regs`, the default partition takes what is left, in
    steps of 8 and at most 256 (setmaxnreg's limits). ValueError unless all three are positive ints,
    worker_regs <= maxnreg (the workers give registers up: setmaxnreg.dec) and the three are what `check_config`
    compiles: maxnreg <= 256, worker_regs a multiple of 8 in [24, 256], default_warps 4 or 8.
    """
    for name, v in (("maxnreg", maxnreg), ("default_warps", default_warps), ("worker_regs", worker_regs)):
        _check_arg(name, v)
    if worker_regs > maxnreg:
        raise ValueError(f"worker_regs={worker_regs} > maxnreg={maxnreg}: the workers give registers up "
                         f"(setmaxnreg.dec), so worker_regs must be <= maxnreg")
    _check_regs(maxnreg, worker_regs, "maxnreg", "worker_regs")
    if default_warps not in (4, 8):
        raise ValueError(f"default_warps={default_warps} must be 4 or 8 (whole warpgroups read TMEM; "
                         f"check_config's num_warps rule)")
    warps = default_warps + 4
    left = (maxnreg * warps - 4 * worker_regs) // default_warps
    return 32 * warps, min(256, left // 8 * 8)


def _check_regs(maxnreg: int, worker_regs: int, m_name: str, w_name: str) -> None:
    """The register limits of step ws (see MIN_REGS, MAX_REGS): ValueError naming the broken one."""
    if maxnreg > MAX_REGS:
        raise ValueError(f"registers: {m_name}={maxnreg} > {MAX_REGS}: a thread has at most {MAX_REGS} registers "
                         f"(Triton's warp specialization derives setmaxnreg counts from it, which must be in "
                         f"[{MIN_REGS}, {MAX_REGS}])")
    if not MIN_REGS <= worker_regs <= MAX_REGS or worker_regs % 8:
        raise ValueError(f"registers: {w_name}={worker_regs} must be a multiple of 8 in [{MIN_REGS}, {MAX_REGS}] "
                         f"(setmaxnreg's operand)")


def ring_phases(i: int, stages: int) -> tuple[int, int, int]:
    """(slot, parity the MMA waits for on ready[slot], parity the TMA waits for on empty[slot]) at K step i.

    The parity flips once per trip around the ring. A fresh mbarrier counts as if the phase before its first one
    (parity 1) had completed, so the producer's first wait on an empty slot is on parity 1 and passes at once.
    ValueError unless i is an int >= 0 and stages a positive int.
    """
    _check_arg("i", i, zero_ok=True)
    _check_arg("stages", stages)
    trip = (i // stages) & 1
    return i % stages, trip, trip ^ 1


@dataclass(frozen=True)
class RingResult:
    """What `simulate_ring` found: 'progress', 'deadlock' or 'race', K steps consumed, and what happened."""

    verdict: str
    consumed: int
    detail: str


def simulate_ring(stages: int, k_steps: int, phases: Callable[[int, int], tuple] = ring_phases) -> RingResult:
    """Model the TMA -> MMA ring's mbarrier waits on a CPU with the (slot, ready, empty) parities of `phases`.

    An mbarrier counts completed phases; ``wait(parity)`` passes when the count's parity differs from `parity`
    (so a fresh barrier passes parity 1 and blocks on 0). TMA loads land at once. Each round the MMA side moves
    first: a wait that passes too early is caught as a race (a slot read before its data landed, or overwritten
    before its MMA released it); no side able to move is a deadlock.
    """
    for name, v in (("stages", stages), ("k_steps", k_steps)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"simulate_ring: {name} must be a positive int, got {v!r}")
    if k_steps > _MAX_RING_STEPS:
        raise ValueError(f"simulate_ring: k_steps={k_steps:,} > {_MAX_RING_STEPS:,}: the model steps through every "
                         f"K step (as bwkit.pipeline.simulate caps its loop); a few trips around the ring show "
                         f"the same verdict")
    if not callable(phases):
        raise TypeError(f"simulate_ring: phases must be a function (i, stages) -> (slot, ready parity, empty "
                        f"parity), such as ring_phases; got {type(phases).__name__} {phases!r:.40}")
    phases = _checked_phases(phases, stages)
    ready, empty, holds = [0] * stages, [0] * stages, [None] * stages
    p = c = 0
    while c < k_steps:
        moved = False
        slot, rp, _ = phases(c, stages)
        if (ready[slot] & 1) != rp:
            if holds[slot] != c:
                what = "nothing" if holds[slot] is None else f"K step {holds[slot]}"
                return RingResult("race", c, f"the MMA of K step {c} read slot {slot} while it held {what}")
            holds[slot], c, moved = None, c + 1, True
            empty[slot] += 1
        if p < k_steps:
            slot, _, ep = phases(p, stages)
            if (empty[slot] & 1) != ep:
                if holds[slot] is not None:
                    return RingResult("race", c, f"the TMA of K step {p} overwrote slot {slot} while it held "
                                                 f"K step {holds[slot]}, not yet consumed")
                holds[slot], p, moved = p, p + 1, True
                ready[slot] += 1
        if not moved:
            s_c, rp, _ = phases(c, stages)
            s_p, _, ep = phases(p, stages) if p < k_steps else (0, 0, 0)
            tma = (f"TMA waits on empty[{s_p}] for parity {ep} ({empty[s_p]} phases done)" if p < k_steps
                   else "TMA done")
            return RingResult("deadlock", c, f"stuck at K step {c}: MMA waits on ready[{s_c}] for parity {rp} "
                                             f"({ready[s_c]} phases done), {tma}")
    return RingResult("progress", c, f"all {k_steps} K steps consumed")


_MAX_RING_STEPS = 1_000_000      # K steps simulate_ring walks (pipeline.simulate's cap; ~3 s at the cap)


def _checked_phases(phases: Callable, stages: int) -> Callable:
    """`phases` whose answers are checked: three ints, the slot in [0, stages) (a ValueError names the K step)."""
    def f(i: int, n: int) -> tuple[int, int, int]:
        got = phases(i, n)
        try:
            slot, rp, ep = (int(x) for x in got)
        except (TypeError, ValueError):
            raise ValueError(f"simulate_ring: phases({i}, {n}) must return three ints (slot, ready parity, empty "
                             f"parity), got {got!r:.60}") from None
        if not 0 <= slot < stages:
            raise ValueError(f"simulate_ring: phases({i}, {n}) returned slot {slot}; a slot is in 0..{stages - 1}"
                             + (" (forgot % stages?)" if slot >= stages else ""))
        return slot, rp, ep
    return f


def _empty_like_ready(i: int, stages: int) -> tuple[int, int, int]:
    slot, trip, _ = ring_phases(i, stages)
    return slot, trip, trip


def _ready_like_empty(i: int, stages: int) -> tuple[int, int, int]:
    slot, trip, _ = ring_phases(i, stages)
    return slot, trip ^ 1, trip ^ 1


def _flip_every_step(i: int, stages: int) -> tuple[int, int, int]:
    return i % stages, i & 1, (i & 1) ^ 1


# lab 09's ring scenarios: name -> (what changes, stages, K steps, phases); `simulate_ring` says what happens
RING_SCENARIOS: dict[str, tuple[str, int, int, Callable]] = {
    "a": ("the TMA side waits on empty[slot] for the same parity as the MMA side on ready[slot]", 4, 12,
          _empty_like_ready),
    "b": ("the MMA side waits on ready[slot] for the TMA side's parity (1 on the first trip)", 4, 12,
          _ready_like_empty),
    "c": ("both parities flip every K step (i & 1) instead of every trip, with a 1-slot ring", 1, 12,
          _flip_every_step),
    "d": ("both parities flip every K step (i & 1), with a 2-slot ring", 2, 12, _flip_every_step),
}


# ------------------------------------------------------------------------------------------------ the rules

def step_timeline(step: str, config: GluonConfig, *, K: int = 1024, tiles: int = 2,
                  gpu: str | hw.GPUSpec = "B200") -> pl.Timeline:
    """Lab 01's pipeline model (`bwkit.pipeline`) of one SM running `tiles` output tiles of `step` ('sync',
    'pipelined' or 'ws', bf16) with `config`'s tile, K deep.

    sync: one slot (the next TMA waits for the MMA before it); pipelined: STAGES slots; both one CTA per tile and
    one CTA on the SM at a time (each tile fills its pipe and drains its epilogue alone; several small CTAs of
    step 1 could share an SM, which this leaves out). ws: STAGES slots, ACC_BUFFERS accumulators, persistent.
    Rates: the SM's share of `gpu`'s dense bf16 peak, lab 01's assumed load pipe (200 B/ns after 800 ns), the
    epilogue at the SM's share of HBM (`bwkit.ladder_model.epilogue_ns`). A model, never a measurement.
    Taught in lab 09, step 3.
    """
    if step not in ("sync", "pipelined", "ws"):
        raise ValueError(f"step_timeline models the bf16 steps 'sync', 'pipelined' and 'ws', got {step!r}")
    check_config(step, config, "bf16")        # model only tiles the kernel takes
    _check_arg("K", K)
    _check_arg("tiles", tiles)
    if K % config.BLOCK_K:
        raise ValueError(f"K={K} must be a multiple of BLOCK_K={config.BLOCK_K}")
    s = hw.get_spec(gpu)
    persistent = step == "ws"
    return pl.simulate(pl.PipelineConfig(
        BLOCK_M=config.BLOCK_M, BLOCK_N=config.BLOCK_N, BLOCK_K=config.BLOCK_K,
        stages=1 if step == "sync" else config.STAGES, k_steps=K // config.BLOCK_K, tiles=tiles,
        acc_buffers=config.ACC_BUFFERS if persistent else 1, persistent=persistent,
        flops_per_ns=s.peak("bf16") / s.sms / 1e9, epilogue_ns=epilogue_ns(config.BLOCK_N, s)))


def check_config(step: str, config: GluonConfig, dtype: str = "bf16") -> None:
    """Raise ValueError naming the broken rule unless `config` is a tile `step`'s kernel supports."""
    _check_step(step, config, dtype)
    c, s = config, step
    if c.BLOCK_M != 128:
        raise ValueError(f"BLOCK_M={c.BLOCK_M}: the kit's kernels use BLOCK_M = 128 (one accumulator row per "
                         f"TMEM lane, one per epilogue thread)")
    widths = (128, 256) if _scaled(s) else (64, 128, 256)
    if c.BLOCK_N not in widths:
        raise ValueError(f"BLOCK_N={c.BLOCK_N}: {s} supports BLOCK_N in {widths}"
                         + (" (scales come in blocks of 128 rows)" if _scaled(s) else ""))
    if _scaled(s) and c.BLOCK_K not in (128, 256):
        raise ValueError(f"BLOCK_K={c.BLOCK_K}: NVFP4 needs BLOCK_K in (128, 256) (64 or 128 bytes of packed FP4)")
    if not _scaled(s) and c.BLOCK_K * _BYTES[dtype] not in (32, 64, 128):
        raise ValueError(f"BLOCK_K={c.BLOCK_K}: a {dtype} K slice must be 32, 64 or 128 bytes per row (one "
                         f"swizzle row), i.e. BLOCK_K in (16, 32, 64)")
    if s != "wgmma" and (c.EPI_N not in (16, 32, 64, 128) or c.BLOCK_N % c.EPI_N):
        raise ValueError(f"EPI_N={c.EPI_N} must be 16, 32, 64 or 128 and divide BLOCK_N={c.BLOCK_N}")
    if s != "sync" and c.STAGES < 2:
        raise ValueError(f"STAGES={c.STAGES}: a ring needs >= 2 slots (it loads K step i + STAGES - 1 while the "
                         f"MMA of step i runs)")
    if c.num_warps not in (4, 8):
        raise ValueError(f"num_warps={c.num_warps} must be 4 or 8 (whole warpgroups read TMEM / issue wgmma)")
    if s == "ws":
        w, m = c.WORKER_REGS, c.maxnreg
        if not MIN_REGS <= w <= min(MAX_REGS, m) or w % 8:
            raise ValueError(f"registers: WORKER_REGS={w!r} must be a multiple of 8 in [24, 256] and at most "
                             f"maxnreg={m!r} (the workers give registers up)")
        _check_regs(m, w, "maxnreg", "WORKER_REGS")
        _, regs = ws_budget(m, c.num_warps, w)
        if regs < c.EPI_N + 32:
            raise ValueError(f"registers: the epilogue's {regs} per thread (maxnreg={m}, WORKER_REGS={w}) must "
                             f"hold EPI_N={c.EPI_N} fp32 values plus 32")
    if s != "ws" and c.ACC_BUFFERS != 1:
        raise ValueError(f"ACC_BUFFERS={c.ACC_BUFFERS}: only step 'ws' double-buffers the accumulator")
    need = smem_bytes(s, c, dtype)
    if need > SMEM_LIMIT:
        raise ValueError(f"shared memory: {s} with STAGES={c.STAGES} needs {need:,} B > {SMEM_LIMIT:,} B per CTA; "
                         f"lower STAGES, BLOCK_N or BLOCK_K")
    if s != "wgmma":
        tmem_columns(c.BLOCK_N, c.BLOCK_K, c.ACC_BUFFERS, _scaled(s))




# --------------------------------------------------------------------------------------- reading the output
def _ptx(fn: str, ptx: str | bwi.Compiled) -> str:
    """The PTX text of `ptx` (a str, or a Compiled's .ptx); TypeError naming `fn` otherwise."""
    if isinstance(ptx, bwi.Compiled):
        return ptx.ptx
    if not isinstance(ptx, str):
        raise TypeError(f"{fn} reads PTX text (k.ptx) or a compiled kernel, got {type(ptx).__name__}")
    return ptx


def tmem_alloc_columns(ptx: str | bwi.Compiled) -> int:
    """TMEM columns the PTX's tcgen05.alloc instructions request (an immediate, or a register set by mov)."""
    ptx = _ptx("tmem_alloc_columns", ptx)
    total = 0
    for m in re.finditer(r"tcgen05\.alloc\.[\w:.]+\s+\[[^\]]+\],\s*([%\w]+);", ptx):
        arg = m.group(1)
        if arg.startswith("%"):
            movs = re.findall(rf"mov\.[bu]32\s+{re.escape(arg)},\s*(\d+);", ptx[: m.start()])
            arg = movs[-1] if movs else "0"
        total += int(arg)
    return total


resource_usage = bwi.resource_usage     # registers, static shared memory and spilled bytes of a kernel's cubin


def _count(ptx: str, rx: str) -> int:
    return bwi.count_matching(bwi.histogram(ptx), rx)


def kernel_facts(k: bwi.Compiled) -> dict[str, object]:
    """Compile-time facts of a compiled kernel, read from its PTX, metadata and cubin (static counts)."""
    if not isinstance(k, bwi.Compiled):
        raise TypeError(f"kernel_facts needs the compiled kernel (compile_step(...)), not "
                        f"{'its PTX text' if isinstance(k, str) else type(k).__name__}: it reads the metadata "
                        f"and the cubin too")
    ptx = k.ptx
    tc5 = re.search(r"tcgen05\.mma\.cta_group::\d\.kind::(\w+)", ptx)
    wg = re.search(r"wgmma\.mma_async\.sync\.aligned\.(m\d+n\d+k\d+)", ptx)
    kind = f"tcgen05 {tc5.group(1)}" if tc5 else (f"wgmma {wg.group(1)}" if wg else "none")
    threads = re.search(r"\.reqntid\s+(\d+)", ptx)
    regs = sorted({int(v) for v in re.findall(r"setmaxnreg\.\w+\.sync\.aligned\.u32\s+(\d+)", ptx)})
    return {
        "MMA instruction": kind,
        "MMA instructions": _count(ptx, r"^(tcgen05\.mma|wgmma\.mma_async)"),
        "TMA loads": _count(ptx, r"^cp\.async\.bulk\.tensor\.\dd\.shared::cta\.global"),
        "TMA stores": _count(ptx, r"^cp\.async\.bulk\.tensor\.\dd\.global\.shared"),
        "mbarrier.init": _count(ptx, r"^mbarrier\.init"),
        "mbarrier waits": _count(ptx, r"^mbarrier\.try_wait"),
        "tcgen05.commit": _count(ptx, r"^tcgen05\.commit"),
        "tcgen05.ld": _count(ptx, r"^tcgen05\.ld"),
        "tcgen05.cp": _count(ptx, r"^tcgen05\.cp"),
        "setmaxnreg values": regs,
        "threads per CTA": int(threads.group(1)) if threads else 0,
        "shared memory (B)": k.metadata.get("shared"),
        "TMEM columns": tmem_alloc_columns(ptx),
        "registers per thread": resource_usage(k)["REG"],
        "spilled bytes": resource_usage(k).get("LOCAL", 0),
    }


def facts_table(kernels: dict[str, bwi.Compiled], rows: list[str] | None = None, width: int = 14) -> str:
    """`kernel_facts` of several kernels as a text table: one row per fact, one column (>= `width`) per kernel.

    `kernels` maps a column name to a compiled kernel ({"sync": k}); `rows` names facts (None: all of them)."""
    if not isinstance(kernels, dict):
        raise TypeError(f"facts_table: kernels must be a dict {{column name: compiled kernel}}, e.g. "
                        f"{{'sync': k}}; got {type(kernels).__name__}")
    if not kernels:
        raise ValueError("facts_table: kernels is empty; give at least one {column name: compiled kernel}")
    for name, k in kernels.items():
        if not isinstance(k, bwi.Compiled):
            raise TypeError(f"facts_table: kernels[{name!r}] must be a compiled kernel (compile_step(...)), got "
                            f"{'PTX text' if isinstance(k, str) else type(k).__name__}")
    _check_arg("facts_table: width", width)
    facts = {name: kernel_facts(k) for name, k in kernels.items()}
    known = list(next(iter(facts.values())))
    rows = list(as_names("facts_table: rows", rows)) if rows is not None else []
    rows = rows or known
    unknown = [r for r in rows if r not in known]
    if unknown:
        raise ValueError(f"facts_table: unknown fact(s) {unknown}; the facts are: {', '.join(known)}")
    cell = lambda v: "-" if v is None else (", ".join(map(str, v)) or "-") if isinstance(v, list) else (  # noqa: E731
        f"{v:,}" if isinstance(v, int) else str(v))
    cells = {n: [cell(f[r]) for r in rows] for n, f in facts.items()}
    w = max([width] + [len(t) + 2 for col in cells.values() for t in col] + [len(n) + 2 for n in cells])
    lines = [f"{'compile-time fact':24s}" + "".join(f"{n:>{w}s}" for n in cells)]
    lines += [f"{r:24s}" + "".join(f"{col[i]:>{w}s}" for col in cells.values()) for i, r in enumerate(rows)]
    return "\n".join(lines)


def mma_waited(ptx: str | bwi.Compiled) -> bool:
    """True when the PTX tracks its tcgen05 MMAs: a tcgen05.commit arrives on an mbarrier that is waited on."""
    ptx = _ptx("mma_waited", ptx)
    return _count(ptx, r"^tcgen05\.commit") > 0 and _count(ptx, r"^mbarrier\.try_wait") > 0


def which_step(ptx: str | bwi.Compiled) -> str:
    """Which ladder step a PTX text is: 'wgmma', 'nvfp4', 'ws', 'pipelined', 'sync' (or 'none': no MMA)."""
    ptx = _ptx("which_step", ptx)
    ops = bwi.histogram(ptx)
    has = lambda rx: any(re.search(rx, op) for op in ops)  # noqa: E731
    if has(r"^wgmma\.mma_async"):
        return "wgmma"
    if not has(r"^tcgen05\.mma"):
        return "none"
    if has(r"kind::mxf4nvf4"):
        return "nvfp4"
    if has(r"^setmaxnreg"):
        return "ws"
    return "pipelined" if _count(ptx, r"^mbarrier\.init") > 2 else "sync"
