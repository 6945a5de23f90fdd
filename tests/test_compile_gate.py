"""The compile gate: every kernel config the kit launches on a GPU compiles for its targets, fits, does not spill and
holds the instructions the labs promise (`bwkit.gemm.gate`).

Covered: every config of `bwkit.gemm.launch_configs` for every ladder step x fp32/fp16/bf16/fp8 x sm_90a/sm_100a/
sm_120 at every launch the kit makes (8192^3 with B (K, N) and `w.t()`, the seed's 16384 x 17290 x 16384), the
block-scaled and NVFP4 GEMMs of `bwkit.scaled_gemm`, the fused MoE kernels of `bwkit.moe_kernels`, the Gluon steps
of `bwkit.gluon_gemm` and the CuTe DSL GEMMs of `bwkit.cute_gemm` / `bwkit.cute_ladder` (sm_100a). Each distinct job
is compiled once per session (`gate.run` caches; Triton's ~/.triton cache makes a warm run take seconds) in
BWKIT_GATE_PROCS processes (default 2). The wall time of the run is written to artifacts/compile_gate.json.
"""

import importlib.util
import json
import re
import time
from pathlib import Path

import pytest

from bwkit.gemm import gate, plan

pytestmark = [pytest.mark.filterwarnings("ignore:Migrated to examples/CuTeDSL/helpers:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:FastDivmodDivisor is deprecated:DeprecationWarning")]
HAS_CUTE = importlib.util.find_spec("cutlass") is not None
# The autotune list every tuned step used before the plan (one list for every dtype and target): it fits 16-bit
# operands, but with fp32 every config of every tuned step is over sm_90a's 232,448 B.
OLD_CONFIGS = [(128, 256, 64, 3, 8), (256, 128, 64, 3, 8), (128, 128, 64, 4, 4), (128, 128, 128, 3, 8),
               (128, 256, 64, 4, 8), (64, 256, 64, 4, 4), (128, 64, 64, 5, 4)]
FAMILIES = [(f, t) for f in ("ladder", "block_scaled", "nvfp4", "moe") for t in plan.PLAN_TARGETS] + \
    [("gluon", "any"), ("cute", "sm_100a")]


@pytest.fixture(scope="module")
def results():
    jobs = gate.all_jobs(cute=HAS_CUTE)
    t0 = time.perf_counter()
    res = gate.run(jobs)
    wall = time.perf_counter() - t0
    out = Path(__file__).resolve().parents[1] / "artifacts" / "compile_gate.json"
    out.parent.mkdir(exist_ok=True)
    kinds = sorted({j[0] for j in jobs})
    out.write_text(json.dumps({"jobs": len(jobs), "wall_s": round(wall, 1), "clock": "host (CPU)",
                               "per_kind": {k: sum(j[0] == k for j in jobs) for k in kinds},
                               "max_shared_fraction": max(r["shared"] / r["limit"] for r in res
                                                          if r.get("shared"))}, indent=1))
    return res


def _target_of(r) -> str:
    return r.get("target") or (r["job"][3] if r["job"][0] in ("ladder", "block_scaled") else r["job"][1])


@pytest.mark.parametrize("family,target", FAMILIES, ids=[f"{f}-{t}" for f, t in FAMILIES])
def test_every_launchable_config_fits_and_holds_its_instructions(results, family, target):
    if family == "cute" and not HAS_CUTE:
        pytest.skip("skipped: needs nvidia-cutlass-dsl (the CuTe DSL)")
    mine = [r for r in results if r["job"][0] == family and (target == "any" or _target_of(r) == target)]
    assert mine, f"no {family} job for {target}"
    problems = [p for r in mine for p in gate.check(r)]
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
    for r in mine:          # the facts are real numbers, not defaults
        assert r["shared"] is not None and r["regs"] and 0 < r["regs"] <= 255, r["label"]


def test_the_gate_covers_every_plan_and_launch(results):
    done = {r["job"] for r in results}
    for step in plan.STEPS:
        for dt in ("fp32", "fp16", "bf16", "fp8"):
            for t in plan.PLAN_TARGETS:
                for c in plan.launch_configs(step, dt, t):
                    for _, shape, layout in plan.launch_variants(step, dt):
                        assert ("ladder", step, dt, t, gate._cfg_tuple(c), shape, layout) in done
    shapes = {r["job"][5] for r in results if r["job"][0] == "ladder"}
    assert plan.SHAPES["seed"] in shapes and plan.SHAPES["aligned"] in shapes
    # the tightest ladder configs are close to the limit: the plans use the shared memory they have
    tight = max(r["shared"] / r["limit"] for r in results if r["job"][0] == "ladder")
    assert 0.8 < tight <= 1.0


def test_a_deliberately_oversized_config_is_caught_with_its_numbers():
    job = ("ladder", "autotuned", "fp32", "sm_90a", (128, 256, 64, 3, 8), plan.SHAPES["aligned"], "kn")
    (res,) = gate.run([job])
    problems = gate.check(res)
    assert len(problems) == 1, problems
    m = re.search(r"ladder step 'autotuned' fp32 on sm_90a \(128x256x64 s3 w8; launch 8192x8192x8192, B kn\): "
                  r"needs ([\d,]+) B of shared memory per block, over the sm_90a limit of 232,448 B", problems[0])
    assert m, problems[0]
    assert int(m.group(1).replace(",", "")) == 3 * (128 + 256) * 64 * 4    # 3 stages of fp32 A and B slices


def test_the_old_autotune_list_fails_the_gate_in_fp32_on_hopper():
    """Before the plan, every fp32 config of the three tuned steps was over sm_90a's limit (lab 03's GPU run
    failed on an H200: 245 KB and more per block); the same configs fit in bf16."""
    steps = ("autotuned", "persistent_tma", "ws")
    fp32 = [("ladder", s, "fp32", "sm_90a", c, plan.SHAPES["aligned"], "nk") for s in steps for c in OLD_CONFIGS]
    res = gate.run(fp32)
    over = [r["shared"] for r in res if any("over the sm_90a limit" in p for p in gate.check(r))]
    assert len(over) == len(fp32), [r["label"] for r in res if not gate.check(r)]
    assert min(over) > 245_000
    bf16 = gate.run([("ladder", "autotuned", "bf16", "sm_90a", c, plan.SHAPES["aligned"], "nk") for c in OLD_CONFIGS])
    assert all(not gate.check(r) for r in bf16)


def test_a_missing_instruction_and_a_spill_are_reported():
    fake = {"job": ("ladder", "ws", "bf16", "sm_100a", (128, 256, 64, 3, 8), plan.SHAPES["aligned"], "nk"),
            "label": "ladder step 'ws' bf16 on sm_100a (fake)", "target": "sm_100a", "shared": 1000,
            "limit": 232_448, "regs": 255, "spill": 96, "warps": 8,
            "counts": {"tcgen05.mma": 8, "TMA load": 2, "TMA store": 2, "setmaxnreg": 0}}
    problems = gate.check(fake)
    assert any("spills 96 B" in p for p in problems)
    assert any("no setmaxnreg instruction" in p and "warp specialization" in p for p in problems)
    assert gate.check({"job": fake["job"], "label": "x", "error": "CompilationError: boom"}) == [
        "x: does not compile: CompilationError: boom"]


def test_the_seed_shape_needs_its_own_check():
    """bf16 persistent_tma 128x256x64 with 4 stages fits at 8192^3 but not at the seed's N = 17290 on sm_100a (C's
    rows are not 16-byte aligned: the epilogue goes through shared memory), which is why the plan leaves it out."""
    cfg = (128, 256, 64, 4, 8)
    aligned, seed = gate.run([("ladder", "persistent_tma", "bf16", "sm_100a", cfg, plan.SHAPES[s], "nk")
                              for s in ("aligned", "seed")])
    assert not gate.check(aligned) and aligned["shared"] <= 232_448
    assert seed["shared"] > 232_448 and "launch 16384x17290x16384" in gate.check(seed)[0]
    assert cfg not in [gate._cfg_tuple(c) for c in plan.launch_configs("persistent_tma", "bf16", "sm_100a")]
