"""Exercises of lab 09 (Tensor Cores by hand with Gluon): what each check reads, its inputs, the mistakes it names.

References come from `bwkit.gluon_gemm` (budgets, the register split, the ring model, reading PTX); the PTX the
reading exercises take is compiled here, on the CPU, by the same library.
"""

from __future__ import annotations

import math
import random
import re

from bwkit import gluon_gemm as gg
from bwkit import tensorcores as tc
from bwkit.kit.exercises.engine import register
from bwkit.kit.exercises.spec import Case, Choice, Exercise, Function, Mistake, Part, wrong_choices

L = gg.SMEM_LIMIT
BAR = gg.MBARRIER_BYTES


def _uncommitted(ptx: str) -> str:
    """`ptx` without its tcgen05.commit lines: what the kernel compiles to when no MMA has `mbarriers=` and no
    `tcgen05_commit` is called (Gluon adds none), while every mbarrier wait of the ring stays."""
    return re.sub(r"(?m)^[ \t]*(@!?%p\d+[ \t]+)?tcgen05\.commit[^\n]*\n", "", ptx)


def _unwaited(ptx: str) -> str:
    """`ptx` without its wait loops (the mbarrier.try_wait lines, their labels and branches back): a kernel that
    commits its MMAs to an mbarrier (mbarriers= on the MMA) but never waits on a barrier (no mbarrier.wait)."""
    return re.sub(r"(?m)^[ \t]*(waitLoop:|(@!?%p\d+[ \t]+)?mbarrier\.try_wait[^\n]*|@!complete bra\.uni waitLoop;)"
                  r"[ \t]*\n", "", ptx)


def _wait_cases(rng: random.Random) -> list[Case]:
    names = [("sync", {}), ("sync", {"wait_mma": False}), ("pipelined", {}), ("ws", {}), ("nvfp4", {})]
    cases = [Case((gg.compile_sync(**kw).ptx if n == "sync" else gg.compile_step(n).ptx,), f"kernel {i + 1}")
             for i, (n, kw) in enumerate(names)]
    cases.append(Case((_uncommitted(gg.compile_step("pipelined").ptx),),
                      "kernel 6: step 2 without mbarriers= or tcgen05_commit (its PTX minus the tcgen05.commit "
                      "lines)"))
    cases.append(Case((_unwaited(gg.compile_sync().ptx),),
                      "kernel 7: step 1 that never waits (its PTX without the mbarrier.try_wait loops)"))
    cfg = gg.GluonConfig(BLOCK_N=rng.choice([64, 256]), STAGES=1)
    return cases + [Case((gg.compile_sync(cfg, wait_mma=rng.random() < 0.5).ptx,), "another tile")]


register(
    Exercise.single(
        "09.1", "is the MMA waited for?",
        reads=Function("mma_is_waited", "(ptx: str) -> bool"),
        cases=_wait_cases, expected=gg.mma_waited, rtol=0,
        mistakes=[
            Mistake("a tcgen05.commit alone does not make the MMA waited for: the kernel must also wait on an "
                    "mbarrier (mbarrier.try_wait; kernel 7 commits and never waits)",
                    value=lambda ptx: "tcgen05.commit" in ptx),
            Mistake("several mbarrier waits do not make a tracked MMA: a ring waits on its TMA's ready barriers "
                    "too (kernel 6 waits several times and commits nothing); what tracks an MMA is a "
                    "tcgen05.commit (mbarriers= on the MMA)",
                    value=lambda ptx: ptx.count("mbarrier.try_wait") > 1),
            Mistake("one kernel's MMA is never committed: the mbarrier it waits on is the TMA's, and tcgen05.wait::ld "
                    "waits for TMEM loads; what tracks an MMA is a tcgen05.commit (mbarriers= on the MMA)",
                    when=lambda got, w, ptx: bool(got) and not w),
            Mistake("PTX waits with mbarrier.try_wait.parity in a loop: there is no instruction called mbarrier.wait",
                    value=lambda ptx: False),
            Mistake("one tcgen05.commit is enough: step 1 commits each MMA to its barrier once per K step",
                    value=lambda ptx: ptx.count("tcgen05.commit") >= 2),
        ],
        hint="An MMA is waited for when a tcgen05.commit arrives on an mbarrier that the kernel waits on."),
)


def _stage_cases(rng: random.Random) -> list[Case]:
    return [Case((128, 256, 64, 2, 16416), "step 3: 16 KiB epilogue tile + 4 barriers"),
            Case((128, 128, 64, 2, 16392), "step 2: 16 KiB epilogue tile + 1 barrier"),
            Case((128, 128, 64, 2, 3072), "a 3 KiB epilogue"),
            Case((128, 64, 64, 2, 36200), "BLOCK_N=64, 36,200 B fixed"),
            Case((128, 64, 32, 1, 10968), "fp8 128x64x32, 10,968 B fixed"),
            Case((128, 128, 32, 2, 48224), "128x128x32, 48,224 B fixed"),
            # on the edge of a stage: 16 bytes more or 8 less per stage (or 16 once) moves the floor
            Case((128, 128, 64, 2, 68528), "128x128x64, 68,528 B fixed"),
            Case((128, 64, 64, 2, 84897), "128x64x64, 84,897 B fixed"),
            Case((128, 64, 32, 2, 146416), "128x64x32, 146,416 B fixed"),
            Case((128, 256, 128, 2, 150000), "128x256x128 with 150,000 B fixed: not one stage fits"),
            _random_stage_case(rng)]


def _random_stage_case(rng: random.Random) -> Case:
    bn, bk, e = rng.choice([64, 128, 256]), rng.choice([32, 64]), rng.choice([1, 2])
    if rng.random() < 0.5:
        return Case((128, bn, bk, e, rng.randrange(0, 40000)), "random")
    stage = (128 + bn) * bk * e + 2 * BAR        # a fixed part within 16 B of a whole number of stages
    n = rng.randrange(1, (L - 15) // stage + 1)
    return Case((128, bn, bk, e, L - n * stage - rng.randrange(0, 16)), "random")


def _stages(limit: int, stage_extra: int = 2 * BAR, a_only: bool = False, fixed: bool = True, once: int = 0):
    def f(bm, bn, bk, e, fx):
        return (limit - (fx if fixed else 0) - once) // (((bm if a_only else bm + bn) * bk * e) + stage_extra)
    return f


register(
    Exercise.single(
        "09.2", "stages from the shared-memory budget",
        reads=Function("max_stages", "(BLOCK_M: int, BLOCK_N: int, BLOCK_K: int, elem_bytes: int, "
                       "fixed_bytes: int) -> int", "stages"),
        cases=_stage_cases, expected=gg.max_stages, rtol=0,
        mistakes=[
            Mistake("each stage also has its two mbarriers (ready and empty, 8 bytes each)",
                    value=_stages(L, stage_extra=0)),
            Mistake("two mbarriers per stage (ready and empty), 8 bytes each: you counted one",
                    value=_stages(L, stage_extra=BAR)),
            Mistake("an mbarrier is one 64-bit word, 8 bytes: a stage's two barriers take 16 bytes, not 32",
                    value=_stages(L, stage_extra=4 * BAR)),
            Mistake("the barriers are paid per stage, not once: every ring slot has its own ready and empty "
                    "mbarrier", value=_stages(L, stage_extra=0, once=2 * BAR)),
            Mistake("a CTA may use 227 KiB (232,448 B) of the SM's 228 KiB", value=_stages(233472)),
            Mistake("227 KiB is 227 x 1024 bytes, not 227,000", value=_stages(227000)),
            Mistake("you forgot fixed_bytes (the epilogue tile and the other barriers) before dividing",
                    value=_stages(L, fixed=False)),
            Mistake("a stage holds a K slice of A *and* of B: (BLOCK_M + BLOCK_N) x BLOCK_K elements",
                    value=_stages(L, a_only=True)),
            Mistake("round down: a partial stage does not fit",
                    value=lambda bm, bn, bk, e, fx: round((L - fx) / ((bm + bn) * bk * e + 2 * BAR))),
            Mistake("when the fixed part leaves less than one stage the answer is 0 (the tile does not fit): "
                    "do not clamp it to 1", value=lambda *a: max(1, gg.max_stages(*a))),
        ],
        hint="(232,448 - fixed_bytes) // ((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes + 2 * 8)."),
)


def _phase_cases(rng: random.Random) -> list[Case]:
    return [Case((0, 4), "first K step"), Case((3, 4), "last slot of trip 0"), Case((4, 4), "second trip"),
            Case((5, 3), "5 of a 3-slot ring"), Case((7, 2), "7 of a 2-slot ring"),
            Case((rng.randrange(0, 300), rng.randrange(2, 9)), "random")]


def _trip(i: int, s: int) -> int:
    return (i // s) & 1


register(
    Exercise.single(
        "09.3", "ring parities",
        reads=Function("ring_phases", "(i: int, stages: int) -> tuple[int, int, int]"),
        cases=_phase_cases, expected=gg.ring_phases, rtol=0,
        mistakes=[
            Mistake("the TMA side waits on empty[slot] for the *opposite* parity: a fresh mbarrier passes parity 1 "
                    "at once, and waiting for 0 deadlocks the ring at K step 0",
                    value=lambda i, s: (i % s, _trip(i, s), _trip(i, s))),
            Mistake("the parity flips once per trip around the ring (every `stages` K steps), not every K step",
                    value=lambda i, s: (i % s, i & 1, (i & 1) ^ 1)),
            Mistake("ready and empty are swapped: the MMA side waits for parity 0 on its first trip (nothing "
                    "has landed yet), the TMA side for parity 1", value=lambda i, s: (i % s, _trip(i, s) ^ 1,
                                                                                     _trip(i, s))),
            Mistake("the slot is i % stages and the trip i // stages, not the other way round",
                    value=lambda i, s: ((i // s) % s, (i % s) & 1, ((i % s) & 1) ^ 1)),
            Mistake("a wait takes a parity (0 or 1): keep the lowest bit of the trip, (i // stages) & 1",
                    when=lambda got, want, i, s: isinstance(got, (tuple, list)) and len(got) == 3
                    and i // s > 1 and got[1] == i // s),
        ],
        hint="slot = i % stages; trip = i // stages; the MMA waits ready[slot] for trip & 1, the TMA waits "
             "empty[slot] for the other parity."),
)


OUTCOMES = ["progress", "deadlock", "race"]


def _scenario(name: str) -> str:
    _, stages, k_steps, phases = gg.RING_SCENARIOS[name]
    return gg.simulate_ring(stages, k_steps, phases).verdict


_ONE_SLOT = "with one slot every K step is a trip around the ring: i & 1 is (i // 1) & 1, the right parity"
_SCENARIO_MISTAKES = {     # scenario -> {wrong outcome: why}
    "a": {"progress": "a fresh mbarrier has completed no phase: waiting for parity 0 blocks, the MMA side waits for "
                      "the TMA, and the TMA waits for the MMA",
          "race": "nothing moves, so nothing can be read early: both sides block at K step 0"},
    "b": {"progress": "parity 1 passes at once on a fresh barrier: the MMA reads slot 0 before its TMA lands",
          "deadlock": "no side blocks here: the MMA side's wait passes too early (parity 1 on a fresh barrier)"},
    "c": {"race": _ONE_SLOT, "deadlock": _ONE_SLOT},
}

register(Exercise("09.4", "progress, deadlock or race", tuple(
    Part((Choice(f"scenario_{s}", OUTCOMES),), lambda s=s: _scenario(s), name=f"scenario {s}",
         mistakes=wrong_choices(wrong))
    for s, wrong in _SCENARIO_MISTAKES.items()
), hint="A fresh mbarrier passes a wait for parity 1 at once and blocks a wait for parity 0; the parity flips "
        "once per trip around the ring."))


def _budget_cases(rng: random.Random) -> list[Case]:
    return [Case((128, 4, 24), "step 3 as compiled"), Case((128, 4, 40), "workers at 40"),
            Case((96, 4, 24), "maxnreg 96"), Case((128, 8, 24), "8 epilogue warps"),
            Case((200, 4, 24), "maxnreg 200"), Case((112, 8, 24), "maxnreg 112, 8 epilogue warps"),
            Case((rng.randrange(80, 169, 8), rng.choice([4, 8]), rng.choice([24, 32, 40, 48])), "random")]


def _rounded_share(rounding):
    """ws_budget with the default partition's share rounded to a multiple of 8 by `rounding` (not down)."""
    def f(m, d, r):
        return 32 * (d + 4), min(256, int(rounding((m * (d + 4) - 4 * r) / d / 8)) * 8)
    return f


_ROUND_DOWN = ("round the default partition's share *down* to a multiple of 8 (// 8 * 8): rounding it to the "
               "nearest one or up hands it registers the workers did not free")


def _budget(extra_warps: int = 4, worker_warps: int = 4, cap: bool = True, step8: bool = True):
    def f(m, d, r):
        left = (m * (d + extra_warps) - worker_warps * r) // d
        left = left // 8 * 8 if step8 else left
        return 32 * (d + extra_warps), min(256, left) if cap else left
    return f


register(
    Exercise.single(
        "09.5", "warp-specialized register budget",
        reads=Function("ws_budget", "(maxnreg: int, default_warps: int, worker_regs: int) -> tuple[int, int]",
                       "threads, registers per thread"),
        cases=_budget_cases, expected=gg.ws_budget, rtol=0,
        mistakes=[
            Mistake("the two 1-warp workers take a whole warpgroup (setmaxnreg acts on 4 warps at a time): the "
                    "CTA has default_warps + 4 warps", value=_budget(extra_warps=2, worker_warps=2)),
            Mistake("the default partition gets more than maxnreg: the workers' registers move to it "
                    "(setmaxnreg.inc)", value=lambda m, d, r: (32 * (d + 4), m)),
            Mistake("setmaxnreg can raise a thread to at most 256 registers", value=_budget(cap=False)),
            Mistake("setmaxnreg takes multiples of 8: round the default partition's share down to one",
                    value=_budget(step8=False)),
            Mistake(_ROUND_DOWN, value=_rounded_share(round)),
            Mistake(_ROUND_DOWN, value=_rounded_share(lambda x: math.floor(x + 0.5))),
            Mistake(_ROUND_DOWN, value=_rounded_share(math.ceil)),
            Mistake("threads per CTA count every warp: the default partition and the workers' warpgroup",
                    value=lambda m, d, r: (32 * d, gg.ws_budget(m, d, r)[1])),
            Mistake("the tuple is (threads per CTA, registers per thread): you returned them the other way round",
                    value=lambda m, d, r: gg.ws_budget(m, d, r)[::-1]),
        ],
        hint="warps = default_warps + 4; default = (maxnreg * warps - 4 * worker_regs) // default_warps, down to "
             "a multiple of 8, at most 256."),
)


def _tmem_parts(bn: int, bk: int, buffers: int, nvfp4: bool, b_blocks: bool = True, sf_bytes: bool = False,
                sf_vec: int = gg.SF_VEC):
    """(accumulator columns, scale columns) of the kit's kernels (variants for the mistake models)."""
    per_128 = bk // sf_vec if sf_bytes else bk // sf_vec // 4
    return bn * buffers, per_128 * (1 + (-(-bn // 128) if b_blocks else 1)) if nvfp4 else 0


def _tmem_reference(bn: int, bk: int, buffers: int, nvfp4: bool) -> tuple[int, int]:
    b = tc.tmem_budget(128, bn, acc_buffers=buffers, kind="mxf4nvf4" if nvfp4 else "f16", block_k=bk,
                       sf_vec=gg.SF_VEC if nvfp4 else None)
    return b.needed, b.allocated


def _tmem_model(**kw):
    def f(bn, bk, buf, fp4):
        acc, sf = _tmem_parts(bn, bk, 1 if kw.get("one_buffer") else buf, fp4 and not kw.get("no_scales"),
                              b_blocks=not kw.get("b_once"), sf_bytes=kw.get("sf_bytes", False),
                              sf_vec=kw.get("sf_vec", gg.SF_VEC))
        need = (acc + sf) * (4 if kw.get("bytes") else 1)
        out = (need, need if kw.get("no_rounding") else tc.round_alloc(need, minimum=kw.get("minimum", 32)))
        return out[::-1] if kw.get("swapped") else out
    return f


def _tmem_cases(rng: random.Random) -> list[Case]:
    fixed = [Case((256, 64, 2, False), "step 3 (ws)"), Case((128, 256, 1, True), "step 4 (nvfp4)"),
             Case((128, 64, 1, False), "steps 1-2"), Case((256, 128, 1, True), "NVFP4, BLOCK_N=256, BLOCK_K=128"),
             Case((16, 64, 1, False), "a 16-column tile")]
    if rng.random() < 0.5:
        drawn = Case((rng.choice([64, 128, 256]), rng.choice([16, 32, 64]), rng.choice([1, 2]), False), "random")
    else:
        drawn = Case((rng.choice([128, 256]), rng.choice([128, 256]), 1, True), "random NVFP4")
    return fixed + [drawn]


register(
    Exercise.single(
        "09.6", "TMEM columns of a kernel",
        reads=Function("tmem_columns", "(BLOCK_N: int, BLOCK_K: int, acc_buffers: int, nvfp4: bool) -> "
                       "tuple[int, int]", "columns"),
        cases=_tmem_cases, expected=_tmem_reference, rtol=0,
        mistakes=[
            Mistake("tcgen05.alloc takes a power of two (>= 32) columns: round the sum up for the second number",
                    value=_tmem_model(no_rounding=True)),
            Mistake("a power of two, yes, but tcgen05.alloc never takes fewer than 32 columns",
                    value=_tmem_model(minimum=1)),
            Mistake("you left out the scale factors: NVFP4 keeps A's and B's scales in TMEM too",
                    value=_tmem_model(no_scales=True)),
            Mistake("you forgot the accumulator buffers: step 3 keeps acc_buffers accumulators of BLOCK_N columns",
                    value=_tmem_model(one_buffer=True)),
            Mistake("a TMEM column is 32 bits wide: four 8-bit scales share one column (BLOCK_K / 64 per 128 rows)",
                    value=_tmem_model(sf_bytes=True)),
            Mistake("B's scales cover BLOCK_N rows: 256 rows take two 128-lane blocks of columns",
                    value=_tmem_model(b_once=True)),
            Mistake("you counted bytes: one fp32 accumulator column is one TMEM column (4 bytes), not 4",
                    value=_tmem_model(bytes=True)),
            Mistake("the tuple is (columns needed, columns allocated): you returned them the other way round",
                    value=_tmem_model(swapped=True)),
            Mistake("NVFP4 has one UE4M3 scale per 16 values along K (one per 32 is MXFP4's block): BLOCK_K / 16 "
                    "scale bytes per row, BLOCK_K / 64 columns per 128 rows",
                    value=_tmem_model(sf_vec=32)),
        ],
        hint="BLOCK_N fp32 columns per accumulator buffer, plus (NVFP4) BLOCK_K/64 columns per 128 rows of A and "
             "of B; then round up to a power of two."),
)


def _other_tiles(rng: random.Random) -> list[tuple[str, gg.GluonConfig]]:
    """One kernel of another tile per step, in an order drawn from `rng` (compiles are cached)."""
    others = [("pipelined", gg.with_stages("pipelined", rng.choice([2, 3]))),
              ("sync", gg.GluonConfig(BLOCK_N=64, STAGES=1)),
              ("ws", gg.GluonConfig(BLOCK_N=128, STAGES=3, ACC_BUFFERS=1)),
              ("nvfp4", gg.GluonConfig(BLOCK_N=256, BLOCK_K=128, STAGES=3))]
    rng.shuffle(others)
    return others


def _ptx_cases(rng: random.Random) -> list[Case]:
    order = ["pipelined", "nvfp4", "sync", "wgmma", "ws"]
    cases = [Case((gg.compile_step(n).ptx,), f"mystery kernel {i + 1}") for i, n in enumerate(order)]
    return cases + [Case((gg.compile_step(name, cfg).ptx,), f"a kernel of another tile ({i + 1} of 4)")
                    for i, (name, cfg) in enumerate(_other_tiles(rng))]


def _got_want(got_in: tuple[str, ...], want: str):
    return lambda got, w, ptx: isinstance(got, str) and got.strip().lower() in got_in and w == want


register(
    Exercise.single(
        "09.7", "name the step from its PTX",
        reads=Function("name_the_step", "(ptx: str) -> str"),
        cases=_ptx_cases, expected=gg.which_step, rtol=0,
        mistakes=[
            Mistake("step 1 waits on mbarriers too: count mbarrier.init (2 in step 1, 2 x STAGES + 1 in step 2)",
                    when=_got_want(("pipelined",), "sync")),
            Mistake("a ring has 2 x STAGES + 1 mbarriers: more than step 1's two",
                    when=_got_want(("sync",), "pipelined")),
            Mistake("step 4's MMA is a tcgen05.mma too: look at its kind (kind::mxf4nvf4.block_scale)",
                    when=_got_want(("sync", "pipelined", "ws"), "nvfp4")),
            Mistake("the warp-specialized kernel is the one with setmaxnreg (its partitions trade registers)",
                    when=_got_want(("sync", "pipelined", "nvfp4"), "ws")),
            Mistake("Hopper has no tcgen05: its MMA is wgmma.mma_async", when=lambda got, w, ptx: w == "wgmma"),
        ],
        hint="Look for, in order: wgmma.mma_async, kind::mxf4nvf4, setmaxnreg, then count mbarrier.init."),
)
