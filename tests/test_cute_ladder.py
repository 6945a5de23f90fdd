"""bwkit.cute_ladder: every rung compiles for sm_100a on a CPU and shows, in PTX and SASS, the instruction it adds.

Running the rungs needs a B200 (benchmarks/gpu_check_cute_ladder.py); here: compilation, the per-rung evidence
(what appears and what disappears), the shared-memory and TMEM budgets against CuTe's own layouts, and the
rules that refuse a rung or a shape before anything compiles. Each rung is compiled once (module fixtures).
"""

import re

import pytest
import torch

from bwkit import cute_gemm as cg
from bwkit import cute_ladder as lad
from bwkit import cute_ladder_nvfp4 as l4

# the wheel (4.8.1) marks its tile schedulers (and the divisor type they use) as deprecated; they are still its API
pytestmark = [pytest.mark.filterwarnings("ignore:Migrated to examples/CuTeDSL/helpers:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:FastDivmodDivisor is deprecated:DeprecationWarning")]
MNK = (1024, 1024, 512)
NAMES = ["1", "2", "3", "3-clc", "4", "5"]


@pytest.fixture(scope="module")
def compiled():
    return {n: lad.compile_rung(lad.rung_by_name(n), *MNK) for n in NAMES}


@pytest.fixture(scope="module")
def nvfp4():
    return l4.compile_nvfp4(512, 512, 512)


def _n(rx: str, text: str) -> int:
    return len(re.findall(rx, text, re.M))


def test_every_rung_compiles_for_sm100a_with_its_evidence(compiled):
    for n, k in compiled.items():
        assert k.ptx_target() == "sm_100a", n
        for what, rx in lad.EXPECTED_PTX[n].items():
            assert _n(rx, k.ptx) > 0, f"rung {n}: missing {what}"
        assert "wgmma" not in k.ptx


def test_rung1_is_lab05s_kernel(compiled):
    assert compiled["1"].ptx == cg.compile_gemm(*MNK, config=lad.RUNGS[0].gemm_config).ptx
    assert _n(r"cta_group::2|multicast::cluster|barrier\.cluster", compiled["1"].ptx) == 0


def test_rung2_adds_the_cta_pair_and_multicast(compiled):
    ptx = compiled["2"].ptx
    assert _n(r"tcgen05\.mma\.cta_group::1", ptx) == 0 and _n(r"tcgen05\.mma\.cta_group::2", ptx) > 0
    # cluster (2, 2): A is multicast to the other pair; B (split across the pair) is not
    assert _n(r"cp\.async\.bulk\.tensor\S*multicast::cluster", ptx) > 0
    assert _n(r"cp\.async\.bulk\.tensor\.2d\.shared::cluster\.global\.tile\.mbarrier::complete_tx::bytes\."
              r"L2::cache_hint\.cta_group::2", ptx) > 0
    assert _n(r"tcgen05\.(alloc|dealloc)\.cta_group::2", ptx) == 2
    assert _n(r"tcgen05\.commit\.cta_group::2\S*multicast::cluster", ptx) > 0      # MMA done -> both CTAs
    assert _n(r"%nctaid", ptx) == 0                                                 # not persistent yet
    sass = set(compiled["2"].histogram("sass"))
    assert {"UTMALDG.2D.MULTICAST.2CTA", "UTMALDG.2D.2CTA"} <= sass


def test_rung3_is_persistent(compiled):
    static, clc = compiled["3"].ptx, compiled["3-clc"].ptx
    assert ".reqntid 192, 1, 1" in static and ".reqntid 224, 1, 1" in clc      # 6 roles, + the scheduler warp
    assert _n(r"%nctaid\.z", static) == 1 and _n(r"clusterlaunchcontrol", static) == 0
    assert _n(r"clusterlaunchcontrol\.try_cancel", clc) == 1 and _n(r"%nctaid\.z", clc) == 0
    assert _n(r"bar\.sync\s+1, 160;", static) == 2          # TMEM address handshake: epilogue warps + MMA warp
    assert ".reqntid 128, 1, 1" in compiled["2"].ptx


def test_rung4_doubles_the_accumulator(compiled):
    three, four = compiled["3"].ptx, compiled["4"].ptx
    alloc = r"mov\.b32\s+%r\d+, (\d+);\s+tcgen05\.alloc"
    assert re.findall(alloc, three) == ["256"] and re.findall(alloc, four) == ["512"]
    # one more full + empty mbarrier pair for the second accumulator
    assert _n(r"mbarrier\.init", four) - _n(r"mbarrier\.init", three) == 2


def test_rung5_stores_through_shared_memory(compiled):
    four, five = compiled["4"], compiled["5"]
    assert _n(r"st\.global", four.ptx) > 0 and _n(r"st\.global", five.ptx) == 0
    assert _n(r"cp\.async\.bulk\.tensor\.2d\.global\.shared::cta", five.ptx) == 1
    assert _n(r"st\.shared\.v4", five.ptx) > 0 and _n(r"fence\.proxy\.async\.shared::cta", five.ptx) > 0
    assert five.histogram("sass", depth=1)["UTMASTG"] > 0 and five.histogram("sass", depth=1)["STG"] == 0
    assert four.histogram("sass", depth=1)["UTMASTG"] == 0


def test_nvfp4_on_the_best_schedule(nvfp4):
    for what, rx in l4.EXPECTED_PTX.items():
        assert _n(rx, nvfp4.ptx) > 0, f"missing {what}"
    assert _n(r"st\.global", nvfp4.ptx) == 0 and ".reqntid 192, 1, 1" in nvfp4.ptx
    sass = nvfp4.histogram("sass", depth=1)
    assert sass["UTCOMMA"] > 0 and sass["UTCCP"] > 0 and sass["UTMASTG"] > 0


def test_budgets_by_hand_and_against_cute_layouts():
    r2, r5 = lad.RUNGS[1], lad.RUNGS[4]
    # one stage per CTA of the pair: 128 rows of A + 256/2 rows of B, 64 bf16 each
    assert lad.smem_bytes(r2) == 6 * (128 + 128) * 64 * 2 == 196608
    assert lad.smem_bytes(r5) == 196608 + 2 * 128 * 32 * 2 == 212992 <= lad.SMEM_LIMIT
    assert lad.smem_bytes(lad.RUNGS[0]) == cg.smem_bytes(cg.GemmConfig())
    assert [lad.tmem_columns(r) for r in lad.RUNGS] == [256, 256, 256, 512, 512]
    for r in (lad.RUNGS[0], r2, lad.RUNGS[3], r5):
        b = lad.layout_budget(r)
        assert b["smem_ab"] + b["smem_c"] == lad.smem_bytes(r), r.number
        assert b["tmem_acc_columns"] == r.acc_stages * r.TILE_N == lad.tmem_columns(r), r.number
    assert l4.nvfp4_smem_bytes() == 5 * ((128 + 128) * 256 // 2 + (128 + 128) * 256 // 16) + 16384 == 200704
    assert lad.max_active_clusters(r2) == 37 and lad.RUNGS[4].multicast == (2, 1)


def test_limits_come_from_one_home():
    from bwkit import cute_common as cc
    from bwkit import hw
    from bwkit import ladder_model as lm
    from bwkit import pipeline as pl
    from bwkit import tensorcores as tc
    assert lad.SMEM_LIMIT == lm.SMEM_LIMIT == pl.SMEM_BYTES_PER_SM == 227 * 1024 == 232448
    assert lad.TMEM_COLUMNS == lm.TMEM_COLUMNS == tc.TMEM_COLUMNS == 512
    assert lad.B200_SMS == hw.get_spec("B200").sms == 148
    assert cc.TMEM_ALLOC_COLUMNS == (32, 64, 128, 256, 512)
    for r in (*lad.RUNGS, lad.RUNG_CLC):       # the ring is STAGES x the model's stage, the TMEM alloc tcgen05's rule
        ring = r.STAGES * lm.stage_bytes(r.TILE_N, r.TILE_K, r.cta_group)
        assert lad.smem_bytes(r) == ring + (2 * r.EPI_STAGES * 128 * r.EPI_N if r.epilogue == "tma" else 0)
        assert lad.tmem_columns(r) == tc.alloc_columns(r.acc_stages * r.TILE_N) == \
            lm.tmem_alloc_columns(r.TILE_N, r.acc_stages)


@pytest.mark.parametrize("kw, rule", [
    ({"cta_group": 2, "cluster": (1, 2)}, "needs an even number of CTAs along M"),
    ({"cluster": (3, 1)}, "powers of two"),
    ({"cluster": (4, 4)}, "portable maximum is 8"),
    ({"acc_stages": 2}, "needs a persistent kernel"),
    ({"epilogue": "tma"}, "needs a persistent kernel"),
    ({"scheduler": "dynamic"}, "scheduler must be one of"),
    ({"TILE_N": 512}, "TILE_N must be 64, 128 or 256"),
    ({"EPI_N": 48}, "EPI_N must be"),
])
def test_bad_rungs_raise(kw, rule):
    with pytest.raises(ValueError, match=re.escape(rule)):
        lad.Rung("x", "bad", **kw)


@pytest.mark.parametrize("mnk, rule", [
    ((384, 1024, 512), "M=384 is not a multiple of 256 (128 rows per CTA x 2 CTAs"),
    ((1024, 768, 512), "N=768 is not a multiple of 512 (TILE_N=256 x 2 CTAs"),
    ((1024, 1024, 96), "K=96 is not a multiple of 64"),
    ((0, 1024, 512), "M must be a positive int"),
])
def test_bad_shapes_raise_before_compiling(mnk, rule):
    with pytest.raises(ValueError, match=re.escape(rule)):
        lad.compile_rung(lad.RUNGS[1], *mnk)


def test_budget_rules():
    too_deep = lad.Rung("x", "deep", cta_group=2, cluster=(2, 1), scheduler="static", epilogue="tma", STAGES=7)
    with pytest.raises(ValueError, match="227 KiB"):
        lad.check_rung_shapes(1024, 1024, 512, too_deep)
    with pytest.raises(ValueError, match="leave no TMEM for the scales"):
        l4.check_nvfp4_rung(512, 512, 512, lad.replace(l4.NVFP4_RUNG, TILE_N=256))
    with pytest.raises(ValueError, match="1-CTA and unclustered"):
        l4.check_nvfp4_rung(512, 512, 512, lad.RUNGS[4])
    with pytest.raises(TypeError, match="rung must be a bwkit.cute_ladder.Rung"):
        lad.check_rung_shapes(1024, 1024, 512, "5")
    with pytest.raises(ValueError, match="unknown rung"):
        lad.rung_by_name("6")


def test_run_checks_before_launch():
    a, b = torch.zeros(1024, 512, dtype=torch.bfloat16), torch.zeros(1024, 512, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        lad.run_rung(lad.RUNGS[4], a, b)
    with pytest.raises(ValueError, match="N=768 is not a multiple of 512"):
        lad.run_rung(lad.RUNGS[4], a, torch.zeros(768, 512, dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="bf16 or fp16"):
        lad.run_rung(lad.RUNGS[4], a.float(), b.float())


# ------------------------------------------------------------------------------------------------ the models
def test_overlap_time_matches_the_pipeline_model():
    """lm.overlap_time is bwkit.pipeline.simulate with loads made free (no latency, unlimited bandwidth)."""
    from bwkit import ladder_model as lm
    from bwkit import pipeline as pl

    for epi_ns, acc in [(500.0, 1), (500.0, 2), (5000.0, 2), (5000.0, 1)]:
        cfg = pl.PipelineConfig(k_steps=8, tiles=6, acc_buffers=acc, load_latency_ns=0.0, bytes_per_ns=1e12,
                                epilogue_ns=epi_ns)
        want = pl.simulate(cfg).makespan_ns
        assert abs(lm.overlap_time(8 * cfg.mma_ns, epi_ns, 6, acc) - want) < 1e-6 * want, (epi_ns, acc)


def test_model_predictions_climb():
    from bwkit import efficiency as eff
    from bwkit import ladder_model as lm

    p = [lm.predict_rung(r, *eff.CUTLASS_SHAPE).pct_of_peak for r in lad.RUNGS]
    assert p[0] < p[1] < p[2] < p[3] and p[4] == p[3]       # rung 5 buys nothing the models can see
    assert round(p[0], 1) == 80.9 and round(p[3], 1) == 99.2
    # rung 1's four stages cannot cover a refill: 800 ns + 48 KiB / 200 B/ns > 3 MMA steps
    c = lm.pipeline_config(lad.RUNGS[0], 8192, 1)
    assert c.load_latency_ns + c.transfer_ns > 3 * c.mma_ns and lm.pipeline_config(lad.RUNGS[1], 8192, 1).stages == 6
    assert lm.l2_bytes_per_cta(256, 64, 2, 2, 2) == 24576 == lm.l2_bytes_per_cta(256, 64, 1, 1, 1) / 2
    assert lm.tmem_alloc_columns(96, 1) == 128 and lm.persistent_tiles_per_cta(4096, 4096, 128, 4, 2) == 8
    assert lm.stage_bytes(256, 64, 2) == (128 + 128) * 64 * 2 and lm.max_stages(256, 64, 2) == 232448 // 32768
    assert lm.predict_rung(l4.NVFP4_RUNG, 8192, 8192, 8192, precision="fp4").mma_busy < 0.7   # load-bound
    with pytest.raises(ValueError, match="exceed TMEM"):
        lm.tmem_alloc_columns(256, 3)


def test_ladder_model_refuses_bad_inputs():
    """lm.max_stages and predict_rung name the argument and the rule; legitimate inputs still work."""
    from bwkit import ladder_model as lm

    with pytest.raises(ValueError, match=r"epi_bytes=300,000 exceeds the 232,448 B"):
        lm.max_stages(256, 64, 2, epi_bytes=300_000)
    with pytest.raises(ValueError, match="epi_bytes must be an int >= 0, got -1"):
        lm.max_stages(256, 64, 2, epi_bytes=-1)
    assert lm.max_stages(256, 64, 2, epi_bytes=lm.SMEM_LIMIT) == 0
    with pytest.raises(ValueError, match=r"precision='fp4', but rung '2' is a BF16 kernel"):
        lm.predict_rung(lad.RUNGS[1], 8192, 8192, 8192, precision="fp4")
    with pytest.raises(ValueError, match=r"precision='bf16', but rung 'nvfp4' is an FP4 kernel"):
        lm.pipeline_config(l4.NVFP4_RUNG, 8192, 1, precision="bf16")
    assert lm.predict_rung(l4.NVFP4_RUNG, 8192, 8192, 8192) == lm.predict_rung(l4.NVFP4_RUNG, 8192, 8192, 8192,
                                                                                precision="fp4")
    assert lm.predict_rung(lad.RUNGS[1], 8192, 8192, 8192, precision="bf16").rung == "2"


def test_fake_table_says_fake():
    from bwkit import ladder_bench as lb

    rows = lb.fake_ladder((1024, 1024, 512))
    assert [r.rung for r in rows] == ["cuBLAS", "1", "2", "3", "3-clc", "4", "5", "nvfp4"]
    assert all(r.fake and "FAKE" in r.note and r.rel_err is None for r in rows)
    table = lb.format_ladder(rows)
    assert table.count("FAKE") >= 4 * len(rows)
    if lb.gpu_reason() is not None:                       # a B200 measures instead (gpu_check_cute_ladder.py)
        with pytest.raises(RuntimeError, match="needs a datacenter Blackwell GPU"):
            lb.measure_ladder()


def test_the_nvfp4_gemms_share_one_operand_contract():
    """lab 05's gemm_nvfp4, this NVFP4 rung and Gluon's matmul_nvfp4 check the operands of
    `bwkit.formats.nvfp4_gemm_case` with one function (`formats.check_nvfp4_operands`): same messages, same rules
    (uint8 or float8_e4m3fn scales, contiguous, nothing copied); then each wants its GPU."""
    from bwkit import formats as F
    from bwkit import gluon_gemm as gg

    M, N, K = 128, 128, 256
    ops, _ = F.nvfp4_gemm_case(M, N, K, device="cpu", reference=False)
    gemms = {"cute": cg.gemm_nvfp4, "ladder": l4.run_nvfp4, "gluon": gg.matmul_nvfp4}

    def message(fn, *args):
        with pytest.raises((TypeError, ValueError)) as e:
            fn(*args, M, N, K)
        return str(e.value)

    for fn in gemms.values():                                    # valid: the device check is next
        assert re.match(r"a_fp4 is on cpu", message(fn, *ops))
        assert re.match(r"a_fp4 is on cpu", message(fn, *ops[:2], *(s.view(torch.float8_e4m3fn) for s in ops[2:])))
    strided = torch.zeros(2 * ops[2].numel(), dtype=torch.uint8)[::2]
    bad = {"sfa must be contiguous": (*ops[:2], strided, ops[3]),
           "sfb must be a uint8 tensor of 128*K/16 = 2048": (*ops[:3], ops[3][:-1]),
           "sfa must be a uint8 tensor of 128*K/16": (*ops[:2], ops[2].float(), ops[3]),
           r"a_fp4 has shape (128, 256), expected (128, 128)": (ops[0].repeat(1, 2), *ops[1:]),
           "b_fp4 has dtype torch.int8, expected torch.uint8": (ops[0], ops[1].view(torch.int8), *ops[2:]),
           "a_fp4 must be contiguous": (ops[0].t().contiguous().t(), *ops[1:])}
    for want, args in bad.items():
        got = {name: message(fn, *args) for name, fn in gemms.items()}
        assert len(set(got.values())) == 1 and next(iter(got.values())).startswith(want), got
    with pytest.raises(ValueError, match="NVFP4 TILE_N must be 128 or 256, got 64"):      # one TILE_N rule
        l4.check_nvfp4_rung(512, 512, 512, lad.replace(l4.NVFP4_RUNG, TILE_N=64))
    with pytest.raises(ValueError, match="NVFP4 tiles are 128 x TILE_N x 256; got TILE_K=128"):
        l4.check_nvfp4_rung(512, 512, 512, lad.replace(l4.NVFP4_RUNG, TILE_K=128))
