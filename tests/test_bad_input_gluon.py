"""Bad input to bwkit.gluon_gemm, bwkit.inspect and bwkit.gemm_bench (audit 2, /tmp/audit_bad2): each call names
the argument and what is wrong instead of failing raw, silently or slowly. No Gluon compile runs here: the
readers get a hand-built `Compiled` and every refusal happens before the compiler."""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import bwkit  # noqa: E402

bwkit.setup(quiet=True)

import pytest  # noqa: E402

from bwkit import gemm_bench as gb  # noqa: E402
from bwkit import gluon_gemm as gg  # noqa: E402
from bwkit import inspect as bwi  # noqa: E402

PTX = """.version 8.7
.target sm_100a
    tcgen05.alloc.cta_group::1.sync.aligned.shared::cta.b32 [%r1], 128;
    mbarrier.init.shared::cta.b64 [%r2], 1;
    @%p1 tcgen05.mma.cta_group::1.kind::f16 [%r1], %rd2, %rd3, %r4, p;
    tcgen05.mma.cta_group::1.kind::f16 [%r1], %rd2, %rd3, %r4, p;
    tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64 [%r2];
    mbarrier.try_wait.parity.shared::cta.b64 %p2, [%r2], %r5;
    ret;
"""
SASS = ("\tcode for sm_100a\n\t.target\tsm_100a\n\t\tFunction : k\n"
        "        /*0010*/                   UTCHMMA gdesc[UR4], gdesc[UR6], tmem[UR8] ;  /* 0x0 */\n"
        "        /*0020*/              @P0  HMMA.16816.F32 R4, R8, R12, R4 ;  /* 0x0 */\n")
K = bwi.Compiled("k", "sm_100a", PTX, None)
HIST = bwi.histogram(PTX)
CFG = gg.STEPS["pipelined"].config
CPU_ROW = {"step": "kloop", "dtype": "fp32", "M": 64, "N": 64, "K": 64, "ok": True, "max_abs_err": 0.0,
           "err_ratio": 0.1, "note": ""}
GPU_ROW = {"name": "cublas", "M": 1024, "N": 1024, "K": 1024, "ms": 0.01, "tflops": 700.0, "x_cublas": 1.0,
           "pct_peak": 70.0, "rel_err": 1e-3, "clock": "cuda events", "device": "NVIDIA B200", "dtype": "bf16"}


def _slot_no_modulo(i, stages):
    return i, (i // stages) & 1, ((i // stages) & 1) ^ 1


REFUSED = [
    # 1, 2: hangs
    ("1 launch-order grid", lambda: gb.plot_launch_order(1000, 1000), ValueError, "tile counts"),
    ("2 ring steps", lambda: gg.simulate_ring(4, 10**9), ValueError, r"k_steps=1,000,000,000 > 1,000,000"),
    # 7: inspect
    ("7 ptx as sass", lambda: bwi.histogram(PTX, kind="sass"), ValueError, "pass kind='ptx'"),
    ("7 sass as ptx", lambda: bwi.histogram(SASS, kind="ptx"), ValueError, "pass kind='sass'"),
    ("7 grep limit -1", lambda: bwi.grep(PTX, "tcgen05", limit=-1), ValueError, "limit must be a positive int"),
    ("7 grep limit 0", lambda: bwi.grep(PTX, "tcgen05", limit=0), ValueError, "limit must be a positive int"),
    # 8: flags, dtype, config
    ("8 wait_mma 'no'", lambda: gg.compile_sync(wait_mma="no"), ValueError, "wait_mma must be True or False"),
    ("8 wait_mma 'False'", lambda: gg.compile_sync(wait_mma="False"), ValueError, "wait_mma must be True or"),
    ("8 nvfp4 dtype", lambda: gg.compile_step("nvfp4", dtype="fp32"), ValueError, "'nvfp4' takes no dtype"),
    ("8 config 0", lambda: gg.compile_step("sync", config=0), TypeError, "config must be a GluonConfig"),
    ("8 config dict", lambda: gg.compile_step("sync", config={"STAGES": 1}), TypeError, "must be a GluonConfig"),
    ("8 config dict sync", lambda: gg.compile_sync({"STAGES": 1}), TypeError, "must be a GluonConfig"),
    ("8 dtype list", lambda: gg.compile_step("sync", dtype=["bf16"]), ValueError, "dtype must be one of"),
    ("8 tmem nvfp4 'no'", lambda: gg.tmem_columns(128, 64, nvfp4="no"), ValueError, "nvfp4 must be True or"),
    # 9: maxnreg
    ("9 maxnreg 512", lambda: gg.check_config("ws", gg.GluonConfig(BLOCK_N=256, ACC_BUFFERS=2, maxnreg=512)),
     ValueError, "maxnreg=512 > 256"),
    ("9 maxnreg 257 compile", lambda: gg.compile_ws(gg.GluonConfig(BLOCK_N=256, ACC_BUFFERS=2, maxnreg=257)),
     ValueError, "maxnreg=257 > 256"),
    # 10: smaller
    ("10 ladder fp4", lambda: gb.ladder_model(precision="fp4"), ValueError, "no ladder step runs FP4"),
    ("10 GROUP_M None", lambda: gb.plot_launch_order(8, 8, GROUP_M=None), ValueError, "GROUP_M must be a positive"),
    ("10 zero K", lambda: gb.run_cpu_scaled_sweep(shapes=((40, 24, 0),)), ValueError,
     r"shapes\[0\] K must be a positive int, got 0"),
    ("10 ws_budget 3 warps", lambda: gg.ws_budget(96, 3, 32), ValueError, "default_warps=3 must be 4 or 8"),
    ("10 ws_budget 20 regs", lambda: gg.ws_budget(128, 4, 20), ValueError, "worker_regs=20 must be a multiple of 8"),
    ("10 ws_budget maxnreg", lambda: gg.ws_budget(1000, 4, 24), ValueError, "maxnreg=1000 > 256"),
    ("10 timeline BLOCK_N", lambda: gg.step_timeline("pipelined", gg.GluonConfig(BLOCK_N=100)), ValueError,
     "BLOCK_N=100"),
    ("10 timeline STAGES", lambda: gg.step_timeline("pipelined", gg.GluonConfig(STAGES=1)), ValueError,
     ">= 2 slots"),
    ("10 descriptor kind", lambda: gg.descriptor_blocks("nvfp5", CFG, "bf16"), ValueError, "unknown step 'nvfp5'"),
    ("10 descriptor dtype", lambda: gg.descriptor_blocks("sync", CFG, "fp32"), ValueError, "dtype must be one of"),
    ("10 negative slot", lambda: gg.simulate_ring(4, 12, lambda i, s: (-1 - i % s, (i // s) & 1, 0)),
     ValueError, "returned slot -1; a slot is in 0..3"),
    ("10 slot no modulo", lambda: gg.simulate_ring(4, 12, _slot_no_modulo), ValueError, "forgot % stages"),
    ("10 two values", lambda: gg.simulate_ring(4, 12, lambda i, s: (i % s, 0)), ValueError, "three ints"),
    ("10 phases str", lambda: gg.simulate_ring(4, 12, "ring_phases"), TypeError, "phases must be a function"),
    # 11
    ("11 gpus str bad", lambda: gb.plot_ladder(gpus="B100"), ValueError, "unknown GPU 'B100'"),
    # 12 (in these files)
    ("12 with_stages", lambda: gg.with_stages("WS", 4), ValueError, "with_stages: unknown step 'WS'"),
    ("12 make_descriptors", lambda: gg.make_descriptors("sync", CFG, "bf16", {"a_desc": None}), ValueError,
     r"lacks \['b_desc', 'c_desc'\]"),
    ("12 matmul_nvfp4 M str", lambda: gg.matmul_nvfp4(None, None, None, None, "128", 128, 256), ValueError,
     "matmul_nvfp4: M must be a positive int, got '128' .*drop the quotes"),
    # 13: readers
    ("13 grep Compiled", lambda: bwi.grep(K, "tcgen05"), TypeError, r"pass k\.ptx"),
    ("13 grep None", lambda: bwi.grep(None, "tcgen05"), TypeError, "text must be PTX or SASS text"),
    ("13 histogram None", lambda: bwi.histogram(None), TypeError, "text must be PTX or SASS text"),
    ("13 depth 1.5", lambda: bwi.histogram(PTX, depth=1.5), ValueError, "depth must be an int >= 1 or None"),
    ("13 depth '1'", lambda: bwi.histogram(PTX, depth="1"), ValueError, "depth must be an int >= 1 or None"),
    ("13 grep limit '5'", lambda: bwi.grep(PTX, "tcgen05", limit="5"), ValueError, "limit must be a positive int"),
    ("13 grep limit 2.5", lambda: bwi.grep(PTX, "tcgen05", limit=2.5), ValueError, "limit must be a positive int"),
    ("13 count bad regex", lambda: bwi.count_matching(HIST, "mma.("), ValueError, "not a regular expression"),
    ("13 count None", lambda: bwi.count_matching(HIST, None), ValueError, "not a regular expression"),
    ("13 count text", lambda: bwi.count_matching(PTX, "mma"), TypeError, "hist must be an instruction histogram"),
    ("13 compare swapped", lambda: bwi.compare_histograms({"mma": "^tcgen05"}, {"k": HIST}), TypeError,
     "swapped"),
    ("13 compare one hist", lambda: bwi.compare_histograms(HIST, {"mma": "^tcgen05"}), TypeError,
     "one histogram: pass"),
    ("13 compare bad regex", lambda: bwi.compare_histograms({"k": HIST}, {"bad": "mma.("}), ValueError,
     r"patterns\['bad'\] = 'mma\.\(' is not a regular expression"),
    ("13 compare list", lambda: bwi.compare_histograms({"k": HIST}, ["^tcgen05"]), TypeError,
     "patterns must be a dict"),
    ("13 kernel_facts ptx", lambda: gg.kernel_facts(PTX), TypeError, "not its PTX text"),
    ("13 kernel_facts None", lambda: gg.kernel_facts(None), TypeError, "kernel_facts needs the compiled kernel"),
    ("13 facts_table {}", lambda: gg.facts_table({}), ValueError, "kernels is empty"),
    ("13 facts_table k", lambda: gg.facts_table(K), TypeError, "kernels must be a dict"),
    ("13 facts_table [k]", lambda: gg.facts_table([K]), TypeError, "kernels must be a dict"),
    ("13 facts_table ptx", lambda: gg.facts_table({"sync": PTX}), TypeError, r"kernels\['sync'\] .* PTX text"),
    ("13 tmem_alloc None", lambda: gg.tmem_alloc_columns(None), TypeError, "reads PTX text"),
    ("13 which_step None", lambda: gg.which_step(None), TypeError, "which_step reads PTX text"),
    ("13 signature None", lambda: bwi.compile_triton(gg.gemm_sync_kernel, None), TypeError,
     "signature must be a dict"),
    ("13 signature list", lambda: bwi.compile_triton(gg.gemm_sync_kernel, ["a_desc"]), TypeError,
     "signature must be a dict"),
    ("13 signature fp61", lambda: bwi.compile_triton(gg.gemm_sync_kernel, {"a_desc": "*fp61"}), ValueError,
     r"signature\['a_desc'\] = '\*fp61' is not a Triton type"),
    ("13 constexpr '64'", lambda: bwi.compile_triton(gg.gemm_sync_kernel, {}, {"WAIT_MMA": "64"}), ValueError,
     "number typed as text"),
    ("13 constexpr '128'", lambda: bwi.compile_triton(gg.gemm_sync_kernel, {}, {"WAIT_MMA": "128"}), ValueError,
     r"constexprs\['WAIT_MMA'\] = '128' is a number typed as text"),
    ("13 num_warps 3", lambda: bwi.compile_triton(gg.gemm_sync_kernel, {}, num_warps=3), ValueError,
     "num_warps must be a power of two"),
    ("13 num_warps 0", lambda: bwi.compile_triton(gg.gemm_sync_kernel, {}, num_warps=0), ValueError,
     "num_warps must be a power of two"),
    ("13 num_warps '4'", lambda: bwi.compile_triton(gg.gemm_sync_kernel, {}, num_warps="4"), ValueError,
     "drop the quotes"),
    # 14: gemm_bench
    ("14 dtypes str bad", lambda: gb.run_cpu_sweep(dtypes="fp33", steps=["kloop"]), ValueError,
     "unknown dtype 'fp33'"),
    ("14 steps str bad", lambda: gb.run_cpu_sweep(dtypes=["fp32"], steps="kloopy"), ValueError,
     "unknown ladder step 'kloopy'"),
    ("14 flat shapes", lambda: gb.run_cpu_sweep(dtypes=["fp32"], steps=["kloop"], shapes=(32, 32, 32)), ValueError,
     r"wrap one shape as \(\(32, 32, 32\),\)"),
    ("14 flat scaled", lambda: gb.run_cpu_scaled_sweep(shapes=(40, 24, 128)), ValueError, "flat"),
    ("14 scaled M 0", lambda: gb.run_cpu_scaled_sweep(shapes=((0, 24, 128),)), ValueError,
     r"shapes\[0\] M must be a positive int, got 0"),
    ("14 scaled K float", lambda: gb.run_cpu_scaled_sweep(shapes=((40, 24, 128.0),)), ValueError,
     r"K must be a positive int, got 128\.0"),
    ("14 ladder shape 2", lambda: gb.plot_ladder(shape=(8192, 8192)), ValueError, r"shape must be an \(M, N, K\)"),
    ("14 ladder shape int", lambda: gb.plot_ladder(shape=8192), ValueError, r"shape must be an \(M, N, K\)"),
    ("14 ladder cpu rows", lambda: gb.plot_ladder(rows=[CPU_ROW]), ValueError, "takes run_gpu_sweep rows"),
    ("14 ladder one row", lambda: gb.plot_ladder(rows=GPU_ROW), TypeError, r"one row: pass \[row\]"),
    ("14 ladder no rows", lambda: gb.plot_ladder(rows=[]), ValueError, "None for the model"),
    ("14 table cpu rows", lambda: gb.format_table([CPU_ROW]), ValueError, "nothing in them is timed"),
    ("14 table one row", lambda: gb.format_table(GPU_ROW), TypeError, "rows must be a list"),
    ("14 table None", lambda: gb.format_table(None), TypeError, "rows must be a list"),
    ("14 sweep cpu rows", lambda: gb.plot_sweep([CPU_ROW]), ValueError, "format_table|plot_sweep takes"),
    ("14 sweep fp4", lambda: gb.plot_sweep([{**GPU_ROW, "dtype": "fp4"}]), ValueError, "'fp4'; run_gpu_sweep"),
    ("14 sweep one row", lambda: gb.plot_sweep(GPU_ROW), TypeError, "rows must be a list"),
    ("14 options int", lambda: gb.parse_bench_options(1024, None, "x.json"), TypeError, "sizes must be a"),
    ("14 options out None", lambda: gb.parse_bench_options("1024", "ws", None), TypeError, "out must be a file"),
    ("14 nvfp4 on cpu", lambda: gb.nvfp4_contenders(64), RuntimeError, "needs datacenter Blackwell"),
]


@pytest.mark.parametrize("what,call,exc,match", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_with_a_clear_error(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_launch_order_refuses_at_once():
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="at most 1,024"):
        gb.plot_launch_order(64, 64)
    assert time.perf_counter() - t0 < 1


def test_readers_take_a_compiled_where_it_is_unambiguous():
    """A Compiled where PTX text belongs is read as its PTX (histogram: its PTX or SASS by `kind`)."""
    assert bwi.histogram(K) == bwi.histogram(PTX) == K.histogram()
    assert gg.mma_waited(K) is gg.mma_waited(PTX) is True
    assert gg.which_step(K) == gg.which_step(PTX) == "sync"
    assert gg.tmem_alloc_columns(K) == gg.tmem_alloc_columns(PTX) == 128


def test_valid_inputs_unchanged():
    assert bwi.histogram(SASS, "sass") == {"UTCHMMA": 1, "HMMA.16816.F32": 1}
    assert bwi.histogram("", "sass") == {} and gg.which_step("") == "none"
    assert len(bwi.grep(PTX, r"tcgen05\.mma", limit=None)) == 2 and len(bwi.grep(PTX, "tcgen05", limit=1)) == 1
    assert bwi.count_matching({"tcgen05.mma": 2, "ld": 1}, r"^tcgen05") == 2
    assert bwi.compare_histograms({"k": HIST}, {"mma": r"^tcgen05\.mma"}) == {"mma": {"k": 2}}
    assert gg.ws_budget(128, 4, 24) == (256, 232) and gg.ws_budget(200, 4, 24) == (256, 256)
    gg.check_config("ws", gg.GluonConfig(BLOCK_N=256, ACC_BUFFERS=2, maxnreg=256, WORKER_REGS=256))
    assert gg.simulate_ring(4, 12).verdict == "progress"
    assert gg.simulate_ring(4, 12, lambda i, s: (i % s, 2, 3)).verdict == "race"
    assert gg.tmem_columns(128, 256, 1, nvfp4=True) == 256
    assert [r["step"] for r in gb.ladder_model(precision="fp8")][:2] == ["naive", "kloop"]
    assert gb.parse_bench_options("1024", "ws", "x.json")[:2] == ([1024], ["ws"])
    assert gg.with_stages("ws", 3).STAGES == 3
    import matplotlib.pyplot as plt

    fig = gb.plot_ladder(gpus="B200")                           # one name, not its characters (#11)
    assert len(fig.axes) == 1 and "B200" in fig.axes[0].get_title()
    plt.close("all")
