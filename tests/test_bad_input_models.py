"""Bad input to the models and measurement helpers (bench, ladder_model, pipeline, efficiency, hw, tensorcores,
facts) is refused by name: the findings of the bad-input audit (numbers in brackets), each with its error type
and a fragment of its message; single values where a sequence belongs are taken as a sequence of one."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from bwkit import bench, facts, hw  # noqa: E402
from bwkit import cute_ladder as lad  # noqa: E402
from bwkit import efficiency as eff  # noqa: E402
from bwkit import ladder_model as lm  # noqa: E402
from bwkit import pipeline as pl  # noqa: E402
from bwkit import tensorcores as tc  # noqa: E402

inf, nan = math.inf, math.nan
_A16 = torch.randn(128, 16).half()
_B16 = torch.randn(16, 64).half()
_TL = pl.simulate(pl.PipelineConfig(k_steps=4, tiles=1))
_FACT = facts.get("B200.hbm_tbps")

BAD = [
    # [2] a device that is not cpu or cuda was timed with the host clock
    ("time_fn device='gpu'", lambda: bench.time_fn(lambda: None, reps=2, device="gpu"), ValueError,
     r"time_fn: device must be 'cpu', 'cuda'.*got 'gpu'"),
    ("time_fn device='CUDA'", lambda: bench.time_fn(lambda: None, reps=2, device="CUDA"), ValueError,
     r"got 'CUDA' \(the GPU is 'cuda', lower case\)"),
    ("time_fn device='meta'", lambda: bench.time_fn(lambda: None, reps=2, device="meta"), ValueError,
     "device must be 'cpu', 'cuda'"),
    ("time_fn meta torch.device", lambda: bench.time_fn(lambda: None, reps=2, device=torch.device("meta")),
     ValueError, "torch.device of type cpu or cuda"),
    # [4] NaN and infinity
    ("PipelineConfig latency inf", lambda: pl.PipelineConfig(load_latency_ns=inf), ValueError,
     "PipelineConfig.load_latency_ns must be a number >= 0, got inf"),
    ("PipelineConfig bytes_per_element inf", lambda: pl.PipelineConfig(bytes_per_element=inf), ValueError,
     "PipelineConfig.bytes_per_element must be a positive number"),
    ("PipelineConfig flops nan", lambda: pl.PipelineConfig(flops_per_ns=nan), ValueError,
     "PipelineConfig.flops_per_ns"),
    ("from_times latency inf", lambda: pl.PipelineConfig.from_times(inf, 50, 100), ValueError,
     "from_times: load_latency_ns must be a number > 0 .*inf .a finite one"),
    ("from_times mma nan", lambda: pl.PipelineConfig.from_times(300, 50, nan), ValueError, "mma_ns must be a number"),
    ("percent_of_peak nan", lambda: bench.percent_of_peak(nan, "B200", "bf16"), ValueError,
     "percent_of_peak: tflops must be a number >= 0, got nan"),
    ("predict in_bytes inf", lambda: eff.predict(8192, 8192, 8192, in_bytes=inf), ValueError,
     "predict: in_bytes must be a positive number, got inf"),
    ("overlap_time inf", lambda: lm.overlap_time(inf, 1.0, 4, 2), ValueError, "times must be >= 0, got inf"),
    # [5] negative values
    ("epilogue_ns TILE_N -256", lambda: lm.epilogue_ns(-256), ValueError,
     "epilogue_ns: TILE_N must be a positive int, got -256"),
    ("epilogue_ns out_bytes -2", lambda: lm.epilogue_ns(256, out_bytes=-2), ValueError,
     "epilogue_ns: out_bytes must be a positive number, got -2"),
    ("stage_bytes TILE_N -256", lambda: lm.stage_bytes(-256, 64, 1), ValueError,
     "stage_bytes: TILE_N must be a positive int, got -256"),
    ("percent_of_peak -100", lambda: bench.percent_of_peak(-100, "B200", "bf16"), ValueError,
     "percent_of_peak: tflops must be a number >= 0, got -100"),
    # [7] True is not a size
    ("gemm_intensity M=True", lambda: hw.gemm_intensity(True, 4096, 4096), ValueError,
     "gemm_intensity: M must be a positive int, got True"),
    ("predict group_m=True", lambda: eff.predict(8192, 8192, 8192, group_m=True), ValueError,
     "group_m must be a positive int, got True"),
    # [8] floats where ints go
    ("tmem_address m=1.5", lambda: tc.tmem_address(1.5, 0, 128, 256), ValueError,
     "tmem_address: m must be an int, got 1.5"),
    ("tmem_address n=2.0", lambda: tc.tmem_address(0, 2.0, 128, 256), ValueError, "tmem_address: n must be an int"),
    ("check_shape M=128.0", lambda: tc.check_shape("f16", 128.0, 256, 16), ValueError,
     "check_shape: M must be an int, got 128.0"),
    # [10] smaller silent results
    ("plot_timeline max_ns -100", lambda: pl.plot_timeline(_TL, max_ns=-100), ValueError,
     "plot_timeline: max_ns must be a positive number, got -100"),
    ("roofline point -5", lambda: hw.plot_roofline(points=[("mine", -5)]), ValueError,
     r"plot_roofline: each point must be \(label, intensity\) with a positive finite intensity.*-5"),
    ("load_results typo", lambda: eff.load_results("/tmp/no_such_results_folder_xyz"), FileNotFoundError,
     "load_results: '/tmp/no_such_results_folder_xyz' is not a folder .no such path"),
    ("tmem_budget f16 sf_vec", lambda: tc.tmem_budget(128, 256, kind="f16", sf_vec=16), ValueError,
     "kind::f16 has no scale factors, so sf_vec=16 sizes nothing; block-scaled kinds: mxf8f6f4"),
    # [13] numbers typed as strings
    ("predict sustained '0.9'", lambda: eff.predict(8192, 8192, 8192, sustained="0.9"), ValueError,
     "predict: sustained must be a positive number, got '0.9' .a number typed as text"),
    ("tile_intensity in_bytes '2'", lambda: eff.tile_intensity("128x256", in_bytes="2"), ValueError,
     "tile_intensity: in_bytes must be a positive number, got '2'"),
    ("PipelineConfig bytes_per_ns '200'", lambda: pl.PipelineConfig(bytes_per_ns="200"), ValueError,
     "PipelineConfig.bytes_per_ns must be a positive number, got '200' .a number typed as text"),
    ("percent_of_peak '100'", lambda: bench.percent_of_peak("100", "B200", "bf16"), ValueError,
     "percent_of_peak: tflops .*got '100' .a number typed as text"),
    ("epilogue_ns '256'", lambda: lm.epilogue_ns("256"), ValueError,
     "epilogue_ns: TILE_N must be a positive int, got '256' .a number typed as text"),
    ("attainable_flops '100'", lambda: hw.attainable_flops("B200", "fp8", "100"), ValueError,
     "intensity must be a positive number of FLOP/byte, got '100' .a number typed as text"),
    ("plot_timeline max_ns '1000'", lambda: pl.plot_timeline(_TL, max_ns="1000"), ValueError, "max_ns must be"),
    # [14] a rung's number or name where the rung object belongs
    ("predict_rung(3)", lambda: lm.predict_rung(3, 16384, 17920, 16384), TypeError,
     r"predict_rung: rung must be a rung object .a bwkit.cute_ladder.Rung.*got int 3; rung 3 is "
     r"bwkit.cute_ladder.rung_by_name\('3'\)"),
    ("pipeline_config('rung3')", lambda: lm.pipeline_config("rung3", 16384, 4), TypeError,
     r"pipeline_config: rung must be a rung object.*got str 'rung3'; rung 3 is bwkit.cute_ladder.rung_by_name"),
    # [15] a single value where a sequence belongs (the ones that stay errors)
    ("sweep_n Ns a string", lambda: eff.sweep_n(8192, 8192, "17920"), TypeError,
     "sweep_n: Ns .ints. must be one or a sequence of them, got str '17920'"),
    ("best_tile tiles None-like", lambda: eff.best_tile(8192, 8192, 8192, tiles=128.5), TypeError,
     "best_tile: tiles"),
    ("measure_table bad shape", lambda: eff.measure_table(shapes=[(64, 64)], dry_run_spec="B200"), ValueError,
     r"measure_table: each shape must be \(M, N, K\), got \(64, 64\)"),
    ("measure_table kernel typo", lambda: eff.measure_table(shapes=(64, 64, 64), kernels="cublass",
                                                            dry_run_spec="B200"), ValueError,
     "unknown kernel 'cublass'; choose from cublas, triton, cute"),
    ("roofline points a string", lambda: hw.plot_roofline(points="mine"), ValueError,
     r"points must be \(label, intensity\) pairs"),
    ("find_mismatches facts a string", lambda: facts.find_mismatches("x", facts="B200.hbm_tbps"), TypeError,
     "find_mismatches: facts must be a Fact or several"),
    # [16] raw errors from torch / Python internals
    ("reference_mma lists", lambda: tc.reference_mma(_A16.tolist(), _B16), TypeError,
     "reference_mma: a must be a torch.Tensor, got list"),
    ("reference_mma K mismatch", lambda: tc.reference_mma(_A16, _B16.t()), ValueError,
     r"reference_mma: a must be M x K and b K x N, got \(128, 16\) and \(64, 16\)"),
    ("reference_mma scale shape", lambda: tc.reference_mma(_A16, _B16, torch.ones(128, 3), sf_vec=16), ValueError,
     r"reference_mma: sf_a must be \(128, K / sf_vec\) = \(128, 1\)"),
    ("plot_stages([])", lambda: pl.plot_stages([]), ValueError, "plot_stages needs at least one Timeline"),
    ("plot_stages of configs", lambda: pl.plot_stages([pl.PipelineConfig()]), TypeError,
     "plot_stages takes a list of Timelines"),
    ("stage_traffic inf", lambda: pl.stage_traffic(128, 128, 64, inf), ValueError,
     "stage_traffic: bytes_per_element must be a positive number, got inf"),
    ("stage_bytes cta_group 0", lambda: lm.stage_bytes(256, 64, 0), ValueError,
     "stage_bytes: cta_group must be 1 or 2, got 0"),
    ("parse_number(2250)", lambda: facts.parse_number(2250), TypeError,
     "parse_number takes the number as written .a str such as '2,250'., got int 2250"),
    ("find_mismatches(None)", lambda: facts.find_mismatches(None), TypeError,
     "find_mismatches: text must be a str .a lab's markdown., got NoneType"),
    ("cublas_baseline dtype 'bf16'", lambda: bench.cublas_baseline(64, 64, 64, dtype="bf16", device="cpu"),
     TypeError, "cublas_baseline: dtype must be a torch.dtype"),
    ("cublas_baseline M=-64", lambda: bench.cublas_baseline(-64, 64, 64, device="cpu"), ValueError,
     "cublas_baseline: M must be a positive int, got -64"),
    ("cublas_baseline device 'gpu'", lambda: bench.cublas_baseline(64, 64, 64, device="gpu"), ValueError,
     "cublas_baseline: device must be 'cpu', 'cuda'"),
    # found beside the listed findings, in the same modules
    ("mma_per_k_step warps=(2,)", lambda: tc.mma_per_k_step("sm_80", 128, 128, 64, warps=(2,)), ValueError,
     r"warps must be a \(warps_m, warps_n\) pair, got \(2,\)"),
    ("save_json path None", lambda: bench.save_json([], None), TypeError, "save_json: path must be a file path"),
    ("results_rows without metadata", lambda: eff.results_rows([{"results": []}]), ValueError,
     r"results_rows: files\[0\] is not what load_results returns"),
]


@pytest.mark.parametrize("call,exc,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_refused_by_name(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
    plt.close("all")


def test_cublas_baseline_default_device_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here: the default device works")
    with pytest.raises(RuntimeError, match=r"cublas_baseline: device='cuda' \(the default\) needs a CUDA GPU.*"
                                           "device='cpu'"):
        bench.cublas_baseline(64, 64, 64)


def test_valid_devices_still_time():
    for dev in ("cpu", "cpu:0", torch.device("cpu")):
        assert bench.time_fn(lambda: sum(range(100)), reps=2, warmup=0, device=dev).clock == "host (CPU)"
    a, b, r = bench.cublas_baseline(8, 8, 8, device="cpu", reps=2, warmup=0)
    assert r.flops == 2 * 8**3 and a.shape == (8, 8)


def test_load_results_file_is_not_a_folder(tmp_path):
    f = tmp_path / "r.json"
    f.write_text("{}")
    with pytest.raises(NotADirectoryError, match="r.json' is not a folder"):
        eff.load_results(f)


def test_single_values_are_one_item_sequences():
    kw = dict(gpu="B200", precision="bf16")
    assert eff.best_tile(8192, 8192, 8192, tiles="128x256", **kw) == eff.best_tile(8192, 8192, 8192,
                                                                                   tiles=["128x256"], **kw)
    assert eff.best_tile(8192, 8192, 8192, tiles=(128, 256)).tile == "128x256"
    assert eff.sweep_n(8192, 8192, 17920) == eff.sweep_n(8192, 8192, [17920])
    assert eff.sweep_n(8192, 8192, [17920], tiles="128x256") == {"128x256": eff.sweep_n(8192, 8192, [17920])[
        "128x256"]}
    fig = eff.plot_sweep(8192, 8192, range(17280, 17920, 128), marks=17920)
    assert any(line.get_label() == "N=17920" for line in fig.axes[0].get_lines())
    fig = hw.plot_roofline(points=("mine", 100))
    assert sum(1 for t in fig.axes[0].texts if t.get_text() == "mine") == 1
    plt.close("all")
    text = "the B200 at 7.7 TB/s"
    assert facts.find_mismatches(text, facts=_FACT) == facts.find_mismatches(text, facts=[_FACT]) != []
    rows = eff.measure_table(shapes=(64, 64, 64), kernels="cublas", dry_run_spec="B200", warmup=0, reps=2,
                             progress=False)
    assert len(rows) == 1 and rows[0].shape == {"M": 64, "N": 64, "K": 64}


def test_fp4_elem_bytes_rung_hint_and_unscaled_kinds():
    stages = lm.max_stages(256, 64, 2, elem_bytes=0.5)          # FP4 packed two per byte
    assert stages == lm.SMEM_LIMIT // ((128 + 128) * 64 // 2) == 28 and isinstance(stages, int)
    assert lm.max_stages(256, 64, 2) == lm.SMEM_LIMIT // ((128 + 128) * 64 * 2)
    assert lm.stage_bytes(256, 64, 2, 0.5) == (128 + 128) * 64 * 0.5
    assert lm.predict_rung(lad.rung_by_name("3"), 16384, 17920, 16384).rung == "3"     # what the hint names
    b = tc.tmem_budget(128, 256, kind="f16", block_k=64)      # block_k sizes nothing for f16, as the labs pass it
    assert b.sf_columns == 0 and b.acc_columns == 256


def _loop_time(M, N, K, tile, gpu, precision, overlap):
    """The model's time summed wave by wave over `hbm_bytes`, as `predict` did before its closed form."""
    p = eff.predict(M, N, K, tile, gpu, precision, overlap_epilogue=overlap)
    spec, t = hw.get_spec(gpu), eff.get_tile(tile)
    t_tile = 2 * t.BLOCK_M * t.BLOCK_N * p.k_steps * t.BLOCK_K / (spec.peak(precision) * t.cta_group / spec.sms)
    total = 0.0
    for w, q in enumerate(eff.hbm_bytes(M, N, K, t, spec, precision)):
        total += max(t_tile, q / spec.bandwidth)
        if not overlap:
            total += M * N * 2.0 * min(p.slots, p.tiles - w * p.slots) / p.tiles / spec.bandwidth
    return p.time_s, total


def test_predict_adds_its_waves_one_by_one():
    assert len(eff.hbm_bytes(100_000, 100_000, 64, "128x256")) == math.ceil(782 * 391 / 148)
    p = eff.predict(16384, 17920, 16384, "128x256", gpu="B200", precision="bf16")
    assert (p.tiles, p.full_waves, round(p.pct_of_peak, 1)) == (8960, 61, 99.2)
    for shape in ((16384, 17920, 16384), (8192, 768, 8192), (2048, 17290, 16384), (4096, 4096, 64)):
        for tile, gpu in (("128x256", "B200"), ("256x128 2-CTA", "B200"), ("128x128", "H200")):
            for overlap in (True, False):
                got, want = _loop_time(*shape, tile, gpu, "bf16", overlap)
                assert got == want, (shape, tile, gpu, overlap)
