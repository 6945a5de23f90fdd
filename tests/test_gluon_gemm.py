"""bwkit.gluon_gemm: the Gluon ladder compiles for sm_100a (and sm_90a) on a CPU and holds what each step promises.

Each step is compiled once per session (module fixtures over the library's own cache). Running the kernels needs a
B200 (benchmarks/gpu_check_gluon.py); here we check the PTX/SASS, the shared-memory and TMEM budgets against the
kit's models, the register split of the warp-specialized kernel, the ring model and the input validation.
"""

import dataclasses
import re

import pytest
import torch

from bwkit import gluon_gemm as gg
from bwkit import inspect as bwi
from bwkit import tensorcores as tc


def _n(rx: str, ptx: str) -> int:
    """Static count of the PTX instructions whose opcode matches `rx` (predicates and operands ignored)."""
    return sum(n for op, n in bwi.histogram(ptx).items() if re.match(rx, op))


@pytest.fixture(scope="module")
def k():
    """Every step at its default tile, compiled once: name -> Compiled."""
    return {name: gg.compile_step(name) for name in gg.STEPS}


@pytest.fixture(scope="module")
def no_wait():
    return gg.compile_sync(wait_mma=False)


def test_every_step_targets_its_arch_and_names_itself(k):
    for name, kernel in k.items():
        assert kernel.ptx_target() == gg.STEPS[name].target
        assert gg.which_step(kernel.ptx) == name
    assert gg.which_step(".version 8.7\n.target sm_100a\n") == "none"


def test_sync_step(k):
    ptx = k["sync"].ptx
    assert _n(r"tcgen05\.mma\.cta_group::1\.kind::f16\b", ptx) == 64 // 16        # BLOCK_K / 16 per K step
    assert gg.tmem_alloc_columns(ptx) == 128                                       # 128 fp32 columns
    assert _n(r"tcgen05\.commit\.cta_group::1\.mbarrier::arrive::one", ptx) == 1  # the MMA -> its mbarrier
    assert _n(r"tcgen05\.ld\.sync\.aligned\.32x32b\.x64\.b32", ptx) == 128 // 64  # EPI_N = 64 columns per slice
    assert _n(r"mbarrier\.init", ptx) == 2 and _n(r"mbarrier\.try_wait\.parity", ptx) == 2
    assert _n(r"cp\.async\.bulk\.tensor\.2d\.shared::cta\.global\.mbarrier::complete_tx::bytes", ptx) == 2
    assert "wgmma" not in ptx and "setmaxnreg" not in ptx
    assert gg.mma_waited(ptx)


def test_mma_without_barrier_is_not_waited_for(no_wait):
    """`tcgen05_mma` without mbarriers= compiles to an MMA nobody waits for: no commit, one wait (the TMA's)."""
    ptx = no_wait.ptx
    assert _n(r"tcgen05\.mma\.", ptx) == 4 and _n(r"tcgen05\.commit", ptx) == 0
    assert _n(r"mbarrier\.try_wait", ptx) == 1 and not gg.mma_waited(ptx)


def test_pipelined_step(k):
    ptx, s = k["pipelined"].ptx, gg.STEPS["pipelined"].config.STAGES
    assert _n(r"mbarrier\.init", ptx) == 2 * s + 1                 # ready + empty per slot, done
    assert _n(r"cp\.async\.bulk\.tensor\.2d\.shared::cta\.global", ptx) == 2 * (s - 1) + 2   # prologue + loop
    assert _n(r"tcgen05\.commit", ptx) == 2                                         # MMA -> empty, last -> done
    assert _n(r"tcgen05\.mma\.cta_group::1\.kind::f16\b", ptx) == 4


def test_ws_step(k):
    kern, cfg = k["ws"], gg.STEPS["ws"].config
    ptx = kern.ptx
    threads, regs = gg.ws_budget(cfg.maxnreg, cfg.num_warps, cfg.WORKER_REGS)
    assert (threads, regs) == (256, 232)
    assert re.search(rf"\.reqntid {threads}\b", ptx) and re.search(rf"\.maxnreg {cfg.maxnreg}\b", ptx)
    assert kern.metadata["num_warps"] == 8                                          # 4 epilogue + 1 + 1 + 2 idle
    assert sorted({int(v) for v in re.findall(r"setmaxnreg\.\w+\.sync\.aligned\.u32\s+(\d+)", ptx)}) == [24, regs]
    assert kern.metadata["tmem_size"] == 512 == gg.tmem_alloc_columns(ptx)          # 2 x 256 accumulator columns
    assert _n(r"mbarrier\.init", ptx) == 2 * cfg.STAGES + 2 * cfg.ACC_BUFFERS
    assert _n(r"mbarrier\.arrive\.shared::cta\.b64", ptx) >= 1                    # epilogue frees the accumulator
    assert kern.histogram("sass", depth=1)["USETMAXREG"] > 0


def test_nvfp4_step(k):
    ptx = k["nvfp4"].ptx
    assert _n(r"tcgen05\.mma\.cta_group::1\.kind::mxf4nvf4\.block_scale\.block16", ptx) == 256 // 64
    assert _n(r"tcgen05\.cp\.cta_group::1", ptx) > 0
    assert _n(r"cp\.async\.bulk\.tensor\.5d\.shared::cta\.global", ptx) > 0          # the blocked scales by TMA
    assert "kind::f16" not in ptx


def test_wgmma_step_for_hopper(k):
    ptx = k["wgmma"].ptx
    assert _n(r"wgmma\.mma_async\.sync\.aligned\.m64n128k16\.f32\.bf16\.bf16", ptx) == (128 // 64) * (64 // 16)
    assert _n(r"wgmma\.wait_group", ptx) >= 1 and "tcgen05" not in ptx
    assert k["wgmma"].metadata["tmem_size"] == 0


def test_sass_has_the_blackwell_units(k):
    sass = {name: kern.histogram("sass", depth=1) for name, kern in k.items()}
    for name in ("sync", "pipelined", "ws"):
        assert sass[name]["UTCHMMA"] == 4 and sass[name]["UTMALDG"] > 0 and sass[name]["LDTM"] > 0
    assert sass["nvfp4"]["UTCOMMA"] == 4 and sass["nvfp4"]["UTCCP"] > 0
    assert sass["wgmma"]["HGMMA"] == 8 and "UTCHMMA" not in sass["wgmma"]


def test_budgets_match_the_compiled_kernels(k):
    """Shared memory within a few bytes of the model (the allocator reuses dead space / adds WS scratch); TMEM
    exactly what bwkit.tensorcores.tmem_budget says; no kernel spills."""
    for name, kern in k.items():
        cfg = gg.STEPS[name].config
        model = gg.smem_bytes(name, cfg)
        assert model <= gg.SMEM_LIMIT
        assert abs(kern.metadata["shared"] - model) <= 256, (name, kern.metadata["shared"], model)
        facts = gg.kernel_facts(kern)
        assert facts["spilled bytes"] == 0 and facts["registers per thread"] <= 255
        if name != "wgmma":
            cols = gg.tmem_columns(cfg.BLOCK_N, cfg.BLOCK_K, cfg.ACC_BUFFERS, name == "nvfp4")
            assert kern.metadata["tmem_size"] == cols == facts["TMEM columns"], name
    assert k["pipelined"].metadata["shared"] == gg.smem_bytes("pipelined", gg.STEPS["pipelined"].config)
    assert k["nvfp4"].metadata["shared"] == gg.smem_bytes("nvfp4", gg.STEPS["nvfp4"].config)


def test_another_tile_changes_the_code():
    cfg = gg.GluonConfig(BLOCK_N=64, BLOCK_K=32, STAGES=6, EPI_N=32)
    kern = gg.compile_pipelined(cfg, "fp16")
    assert _n(r"tcgen05\.mma\.cta_group::1\.kind::f16\b", kern.ptx) == 32 // 16
    assert _n(r"tcgen05\.ld\.sync\.aligned\.32x32b\.x32\.b32", kern.ptx) == 64 // 32
    assert kern.metadata["shared"] == gg.smem_bytes("pipelined", cfg, "fp16") and kern.metadata["tmem_size"] == 64
    assert "bf16" not in kern.ptx


def test_ws_register_split_with_eight_epilogue_warps():
    cfg = gg.GluonConfig(BLOCK_N=128, STAGES=3, ACC_BUFFERS=2, num_warps=8, maxnreg=96, WORKER_REGS=32)
    ptx = gg.compile_ws(cfg).ptx
    threads, regs = gg.ws_budget(96, 8, 32)
    assert (threads, regs) == (384, 128)
    assert re.search(rf"\.reqntid {threads}\b", ptx)
    assert regs in {int(v) for v in re.findall(r"setmaxnreg\.\w+\.sync\.aligned\.u32\s+(\d+)", ptx)}


def test_models():
    assert gg.SMEM_LIMIT == 232_448
    assert gg.max_stages(128, 256, 64, 2, 16416) == 4 and gg.max_stages(128, 128, 64, 2, 16392) == 6
    assert gg.max_stages(128, 128, 64, 2, 3072) == 6                        # 7 without the two mbarriers
    assert gg.tmem_columns(256, 64, 2) == 512 and gg.tmem_columns(128, 256, 1, True) == 256
    assert gg.tmem_columns(256, 256, 1, True) == 512                         # 256 + 4 + 8 scale columns
    assert gg.tmem_columns(128, 256, 1, True) == tc.tmem_budget(128, 128, kind="mxf4nvf4", block_k=256,
                                                               sf_vec=16).allocated
    with pytest.raises(ValueError, match="512"):
        gg.tmem_columns(256, 64, 3)
    assert gg.ws_budget(128, 4, 40) == (256, 216) and gg.ws_budget(128, 8, 24) == (384, 176)
    assert gg.ws_budget(200, 4, 24) == (256, 256)                            # setmaxnreg caps at 256
    assert gg.ring_phases(0, 4) == (0, 0, 1) and gg.ring_phases(5, 4) == (1, 1, 0) and gg.ring_phases(8, 4) == (0, 0, 1)


@pytest.mark.parametrize("call,match", [
    (lambda: gg.max_stages(128, 128, 64, 2, 300_000), r"fixed_bytes=300,000 exceeds the 232,448 B budget"),
    (lambda: gg.max_stages(128, 0, 64, 2, 0), "BLOCK_N must be a positive int, got 0"),
    (lambda: gg.max_stages(128, 128, 64, 2, -8), "fixed_bytes must be an int >= 0, got -8"),
    (lambda: gg.max_stages(128, 128, 64, 0, 0), "elem_bytes must be a positive number, got 0"),
    (lambda: gg.ws_budget(0, 4, 24), "maxnreg must be a positive int, got 0"),
    (lambda: gg.ws_budget(64, 4, 200), r"worker_regs=200 > maxnreg=64: .*setmaxnreg\.dec"),
    (lambda: gg.ws_budget(128, 0, 24), "default_warps must be a positive int, got 0"),
    (lambda: gg.ring_phases(3, 0), "stages must be a positive int, got 0"),
    (lambda: gg.ring_phases(-1, 4), "i must be an int >= 0, got -1"),
    (lambda: gg.smem_bytes("pipeline", gg.STEPS["pipelined"].config), "unknown step 'pipeline'; steps: sync, "),
    (lambda: gg.smem_bytes("pipelined", gg.STEPS["pipelined"].config, "fp8"), "dtype must be one of bf16, fp16"),
])
def test_models_refuse_bad_inputs(call, match):
    """The CPU models name the argument and the rule instead of returning nonsense (a negative stage count, a
    negative register budget) or a bare ZeroDivisionError / KeyError."""
    with pytest.raises(ValueError, match=match):
        call()


def test_models_take_every_legitimate_input():
    assert gg.max_stages(128, 128, 64, 2, gg.SMEM_LIMIT) == 0            # a fixed part that fills the budget
    assert gg.max_stages(128, 128, 256, 0.5, 0) == gg.SMEM_LIMIT // (256 * 256 // 2 + 16)    # FP4: half a byte
    assert gg.ws_budget(128, 4, 128) == (256, 128)                        # the workers keep maxnreg
    assert gg.ring_phases(0, 1) == (0, 0, 1)
    with pytest.raises(TypeError, match="GluonConfig"):
        gg.smem_bytes("pipelined", None)


def test_ring_model():
    for stages in (1, 2, 3, 7):
        assert gg.simulate_ring(stages, 25).verdict == "progress"
    verdicts = {n: gg.simulate_ring(s, ks, f).verdict for n, (_, s, ks, f) in gg.RING_SCENARIOS.items()}
    assert verdicts == {"a": "deadlock", "b": "race", "c": "progress", "d": "race"}
    r = gg.simulate_ring(4, 12, gg.RING_SCENARIOS["a"][3])
    assert r.consumed == 0 and "empty[0] for parity 0" in r.detail
    with pytest.raises(ValueError, match="stages"):
        gg.simulate_ring(0, 4)


@pytest.mark.parametrize("step,cfg,match", [
    ("pipelined", gg.GluonConfig(BLOCK_N=256, STAGES=5), r"shared memory: .* > 232,448 B"),
    ("ws", gg.GluonConfig(BLOCK_N=256, ACC_BUFFERS=3, STAGES=2), "TMEM: .*768"),
    ("pipelined", gg.GluonConfig(STAGES=1), ">= 2 slots"),
    ("sync", gg.GluonConfig(BLOCK_M=64), "BLOCK_M = 128"),
    ("sync", gg.GluonConfig(BLOCK_K=128), "BLOCK_K in"),
    ("sync", gg.GluonConfig(EPI_N=48), "EPI_N"),
    ("nvfp4", gg.GluonConfig(BLOCK_N=64, BLOCK_K=256), "blocks of 128 rows"),
    ("pipelined", gg.GluonConfig(ACC_BUFFERS=2), "only step 'ws'"),
    ("ws", gg.GluonConfig(maxnreg=64, WORKER_REGS=24, EPI_N=128, BLOCK_N=128), "registers"),
    ("nope", gg.GluonConfig(), "unknown step"),
])
def test_rules_raise_before_compiling(step, cfg, match):
    with pytest.raises(ValueError, match=match):
        gg.check_config(step, cfg)
    if step in gg.STEPS:
        with pytest.raises(ValueError, match=match):
            gg.compile_step(step, cfg)


def test_running_needs_the_gpu():
    a, b = torch.randn(256, 64).bfloat16(), torch.randn(128, 64).bfloat16()
    with pytest.raises(ValueError, match="matmul launches a GPU kernel"):
        gg.matmul(a, b)
    with pytest.raises(TypeError, match="dtype"):
        gg.matmul(a.float(), b)
    with pytest.raises(ValueError, match="same K"):
        gg.matmul(a, b[:, :32].contiguous())
    with pytest.raises(ValueError, match="step must be one of"):
        gg.matmul(a, b, step="nvfp4")
    with pytest.raises(ValueError, match="multiples of 128"):
        gg.matmul_nvfp4(None, None, None, None, 100, 128, 256)


def test_facts_come_from_bwkit_inspect(k):
    """The Gluon steps compile through `bwkit.inspect.compile_triton` (a Gluon kernel gets a GluonASTSource) and read
    their registers with `bwkit.inspect.resource_usage`; the metadata is the step's."""
    assert gg.resource_usage is bwi.resource_usage
    for name, kern in k.items():
        assert list(kern.metadata) == ["step", "config", "shared", "tmem_size", "num_warps", "name"], name
        assert kern.metadata["step"] == name and kern.metadata["config"] == gg.STEPS[name].config
        res = bwi.resource_usage(kern.cubin)
        facts = gg.kernel_facts(kern)
        assert facts["registers per thread"] == res["REG"] and facts["spilled bytes"] == res["LOCAL"] == 0
    assert bwi.resource_usage(k["ws"])["REG"] == gg.STEPS["ws"].config.maxnreg     # the CTA's register budget


def test_gluon_nvfp4_operand_check_needs_no_cute_dsl():
    """The GPU image has no nvidia-cutlass-dsl: Gluon's NVFP4 GEMM checks its operands with torch only."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['cutlass'] = None\n"      # importing the CuTe DSL now fails
            "import bwkit; bwkit.setup()\n"
            "import torch\n"
            "from bwkit import gluon_gemm as gg\n"
            "z = torch.zeros\n"
            "try:\n"
            "    gg.matmul_nvfp4(z(128, 128, dtype=torch.uint8), z(128, 128), z(2048, dtype=torch.uint8),\n"
            "                    z(2048, dtype=torch.uint8), 128, 128, 256)\n"
            "except TypeError as e:\n"
            "    print('REFUSED', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "BWKIT_FORCE_CPU": "1"})
    assert "REFUSED b_fp4 has dtype torch.float32, expected torch.uint8" in r.stdout, r.stdout + r.stderr[-2000:]
    assert "cutlass" not in r.stdout


def test_step_timeline_models_what_each_step_adds():
    """Lab 09's chart: step 1 waits for every load, step 2 pipelines but refills per tile, step 3 overlaps tiles."""
    from bwkit import pipeline as pl

    sync = gg.step_timeline("sync", gg.GluonConfig(), K=1024, tiles=4)
    ring = gg.step_timeline("pipelined", gg.GluonConfig(), K=1024, tiles=4)
    ws_cfg = gg.GluonConfig(BLOCK_N=256, ACC_BUFFERS=2)
    ws = gg.step_timeline("ws", ws_cfg, K=1024, tiles=2)
    assert sync.flops == ring.flops == ws.flops == 2 * 256 * 256 * 1024        # the same block of C
    c = sync.config
    # one slot: every K step is latency + transfer + MMA, one after another; one CTA per tile
    assert sync.makespan_ns == pytest.approx(4 * (16 * (c.load_latency_ns + c.transfer_ns + c.mma_ns)
                                                  + c.epilogue_ns))
    one = gg.step_timeline("pipelined", gg.GluonConfig(), K=1024, tiles=1)
    assert ring.makespan_ns == pytest.approx(4 * one.makespan_ns)             # each CTA fills and drains alone
    assert ws.config.persistent and ws.config.acc_buffers == 2 and not ring.config.persistent
    assert ws.makespan_ns < pl.simulate(dataclasses.replace(ws.config, persistent=False)).makespan_ns
    assert sync.mma_busy < ring.mma_busy < ws.mma_busy
    with pytest.raises(ValueError, match="bf16 steps"):
        gg.step_timeline("nvfp4", gg.GluonConfig())
    with pytest.raises(ValueError, match="multiple of BLOCK_K"):
        gg.step_timeline("sync", gg.GluonConfig(), K=1000)
