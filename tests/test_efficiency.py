"""bwkit.efficiency: tile and wave quantization, the per-wave roofline, fits, sweeps and saved results."""

import json
import math

import pytest
import torch

from bwkit import bench, hw
from bwkit import efficiency as eff


def _padded_work(M, N, K, bm, bn, bk):
    """Independent reference: count the padded multiply-adds tile by tile."""
    total = 0
    for _m0 in range(0, M, bm):
        for _n0 in range(0, N, bn):
            total += bm * bn * (-(-K // bk) * bk)
    return total


@pytest.mark.parametrize("shape,tile", [((1000, 1000, 1000), (128, 128, 64)), ((300, 700, 130), (128, 256, 64)),
                                        ((256, 512, 64), (128, 256, 64)), ((129, 17, 65), (64, 16, 32))])
def test_tile_efficiency_matches_padded_count(shape, tile):
    M, N, K = shape
    want = M * N * K / _padded_work(M, N, K, *tile)
    assert eff.tile_efficiency(M, N, K, tile) == pytest.approx(want, rel=1e-12)


def _busiest_slot(tiles, slots):
    """Independent reference: deal tiles round-robin, as a persistent kernel does, and count the busiest slot."""
    counts = [0] * slots
    for i in range(tiles):
        counts[i % slots] += 1
    return max(counts)


@pytest.mark.parametrize("tiles,slots", [(148, 148), (149, 148), (8960, 148), (8704, 74), (1, 132), (192, 132)])
def test_wave_efficiency_matches_round_robin(tiles, slots):
    busiest = _busiest_slot(tiles, slots)
    assert eff.wave_efficiency(tiles, slots) == pytest.approx(tiles / (busiest * slots), rel=1e-12)


def test_seed_and_cutlass_shapes_by_hand():
    # 17920 = 140 x 128 = 70 x 256: whole tiles; 17290 = 135.08 x 128: 136 tiles, the last one 10 columns full.
    assert eff.tile_counts(*eff.CUTLASS_SHAPE, "128x128") == (128, 140, 256)
    assert eff.tile_counts(*eff.SEED_SHAPE, "128x256") == (128, 68, 256)
    assert eff.tile_efficiency(*eff.CUTLASS_SHAPE, "128x256") == 1.0
    assert eff.tile_efficiency(*eff.SEED_SHAPE, "128x256") == pytest.approx(17290 / 17408)
    p = eff.predict(*eff.CUTLASS_SHAPE, "128x256", "B200", "bf16")
    assert (p.tiles, p.slots, p.full_waves) == (8960, 148, 61)
    assert p.wave_eff == pytest.approx(8960 / (61 * 148))
    q = eff.predict(*eff.SEED_SHAPE, "256x128 2-CTA", "B200", "bf16")
    assert (q.tiles, q.slots, q.full_waves) == (8704, 74, 118)
    assert eff.slots("H200", "128x128") == 132 and eff.slots("B200", "256x128 2-CTA") == 74


@pytest.mark.parametrize("gpu,shape,tile,sustained", [
    ("B200", (16384, 17290, 16384), "128x256", 1.0), ("B200", (2048, 17290, 16384), "256x128 2-CTA", 0.9),
    ("H200", (8192, 768, 8192), "128x256", 0.8), ("H100 SXM", (5000, 3000, 4000), (128, 128, 64), 1.0)])
def test_compute_bound_prediction_is_product_of_efficiencies(gpu, shape, tile, sustained):
    p = eff.predict(*shape, tile, gpu, "bf16", sustained=sustained)
    assert p.bound == "compute"
    M, N, K = shape
    t = eff.get_tile(tile)
    tm, tn, tk = math.ceil(M / t.BLOCK_M), math.ceil(N / t.BLOCK_N), math.ceil(K / t.BLOCK_K)
    n_slots = hw.get_spec(gpu).sms // t.cta_group
    want = 100 * sustained * (M * N * K / (tm * tn * tk * t.BLOCK_M * t.BLOCK_N * t.BLOCK_K)) * \
        (tm * tn / (math.ceil(tm * tn / n_slots) * n_slots))
    assert p.pct_of_peak == pytest.approx(want, rel=1e-9)
    assert p.tflops == pytest.approx(want / 100 * hw.peak_flops(gpu, "bf16") / 1e12, rel=1e-9)


def test_no_l2_reuse_is_the_per_tile_roofline():
    # Every tile reads its own strips: FLOP/byte = 2*128*256/((128+256)*2) = 85.3, far below B200's bf16 ridge 281.
    assert eff.tile_intensity("128x256", 2.0) == pytest.approx(2 * 128 * 256 / (384 * 2))
    M, N, K = 16384, 17920, 16384
    p = eff.predict(M, N, K, "128x256", "B200", "bf16", l2_reuse="none")
    assert p.bound == "memory"
    spec = hw.get_spec("B200")
    tiles = 128 * 70
    moved = tiles * (128 + 256) * K * 2 + M * N * 2
    want = 100 * (2 * M * N * K / (moved / spec.bandwidth)) / spec.peak("bf16")
    assert p.pct_of_peak == pytest.approx(want, rel=1e-3)
    assert p.pct_of_peak < eff.predict(M, N, K, "128x256", "B200", "bf16").pct_of_peak


def test_ideal_reuse_moves_each_operand_once():
    M, N, K = 3000, 5000, 2048
    got = sum(eff.hbm_bytes(M, N, K, "128x256", "B200", "fp8", l2_reuse="ideal", c_bytes=2))
    assert got == pytest.approx((M + N) * K * 1 + M * N * 2, rel=1e-12)


def test_wave_reuse_sits_between_none_and_ideal():
    args = (16384, 17290, 16384, "128x128", "B200", "bf16")
    none, wave, ideal = (sum(eff.hbm_bytes(*args, l2_reuse=m)) for m in ("none", "wave", "ideal"))
    assert ideal < wave < none
    # grouped order: a wave of 148 tiles covers 8 tile rows x 19 tile columns
    assert eff._wave_footprint(148, 128, 136, 8) == (8, 19)


def test_kernel_without_epilogue_overlap_pays_for_it():
    M, N, K = 8192, 8192, 8192
    a = eff.predict(M, N, K, "128x256", "H200", "bf16", overlap_epilogue=True)
    b = eff.predict(M, N, K, "128x256", "H200", "bf16", overlap_epilogue=False)
    assert b.time_s - a.time_s == pytest.approx(M * N * 2 / hw.get_spec("H200").bandwidth, rel=1e-9)
    assert b.pct_of_peak < a.pct_of_peak


def test_fit_sustained_round_trip_and_sweep_sawtooth():
    p = eff.predict(8192, 8192, 8192, "128x256", "H200", "bf16", sustained=0.8)
    assert eff.fit_sustained(p.pct_of_peak, 8192, 8192, 8192, "128x256", "H200", "bf16") == pytest.approx(0.8)
    with pytest.warns(UserWarning, match="did you pass a fraction"):      # 0.8 meant as 80 %
        eff.fit_sustained(0.8, 8192, 8192, 8192, "128x256", "H200", "bf16")
    Ns = [17152, 17408, 17409, 17664]
    curve = eff.sweep_n(16384, 16384, Ns, ["128x256"], "B200", "bf16")["128x256"]
    # 17408 = 68 x 256 whole tiles; one more column adds a tile column that is 1/256 full
    assert curve[1] > curve[2]
    assert curve == [eff.predict(16384, n, 16384, "128x256", "B200", "bf16").pct_of_peak for n in Ns]


def test_best_tile_for_the_seed_n_at_a_small_batch():
    best = eff.best_tile(2048, 17290, 16384, gpu="B200", precision="bf16")
    # 128x128 ties on quantization (2176 tiles, 15 waves); the tie goes to the higher tile intensity (85 vs 64)
    assert best.tile == "256x128 2-CTA"
    assert eff.predict(2048, 17290, 16384, "128x128").pct_of_peak == pytest.approx(best.pct_of_peak)
    worst = eff.predict(2048, 17290, 16384, "128x256", "B200", "bf16")
    # 128x256: 16 x 68 = 1088 tiles on 148 SMs = 7.35 waves -> 8; 2-CTA: 1088 on 74 pairs = 14.7 -> 15
    assert worst.full_waves == 8 and best.pct_of_peak - worst.pct_of_peak > 5
    assert "2-CTA" not in eff.best_tile(8192, 8192, 8192, gpu="H200").tile


@pytest.mark.parametrize("call,err,exc", [
    (lambda: eff.predict(1024, 1024, 1024, "256x128 2-CTA", "H200"), "sm_100a", ValueError),
    (lambda: eff.predict(1024, 1024, 1024, "64x64"), "known: 128x128", ValueError),
    (lambda: eff.predict(1024, 0, 1024), "N must be a positive int", ValueError),
    (lambda: eff.predict(1024, 1024, 1024, precision="fp16"), "unknown precision", ValueError),
    (lambda: eff.predict(1024, 1024, 1024, gpu="A100"), "unknown GPU", ValueError),
    (lambda: eff.predict(1024, 1024, 1024, sustained=1.2), "sustained", ValueError),
    (lambda: eff.predict(1024, 1024, 1024, l2_reuse="some"), "l2_reuse", ValueError),
    (lambda: eff.predict(1024, 1024, 1024, overlap_epilogue="yes"), "overlap_epilogue", TypeError),
    (lambda: eff.Tile(128, 128, 64, cta_group=4), "cta_group", ValueError),
    (lambda: eff.get_tile(128), "tile must be", TypeError),
    (lambda: eff.wave_efficiency(0, 148), "tiles", ValueError),
    (lambda: eff.fit_sustained(0, 1024, 1024, 1024), "measured_pct", ValueError),
    (lambda: eff.make_runner("cudnn", None, None), "unknown kernel", ValueError),
])
def test_bad_inputs_raise_clear_errors(call, err, exc):
    with pytest.raises(exc, match=err):
        call()


def test_published_figures_carry_their_source():
    assert eff.CUTLASS_B200_PCT["MXFP8"] == 98.3 and eff.CUTLASS_B200_PCT["NVFP4"] == 88.5
    assert len(eff.CUTLASS_B200_PCT) == 8 and "CUTLASS 3.8" in eff.CUTLASS_SOURCE
    assert "% throughput of theoretical peak @ power" in eff.CUTLASS_SOURCE and "[-4, 4]" in eff.CUTLASS_SOURCE
    assert eff.CUTLASS_SHAPE == (16384, 17920, 16384) and 17920 == 140 * 128 and 17290 % 128 != 0


def _gpu_result(name, pct_pred, ms):
    t = bench.Timing(ms, ms * 0.99, ms * 1.01, ms * 0.98, 20, "cuda-events", "NVIDIA H200")
    return bench.gemm_result(name, 8192, 8192, 8192, t, precision="bf16", predicted_pct=pct_pred)


def test_results_round_trip_skip_non_measurements_and_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "README.md").write_text("test folder")
    # synthetic rows written by this test (not GPU data): 1.1 ms for 8192^3 = 999.5 TFLOP/s = 101% of H200's 989
    zero = {"name": "k3", "shape": {"M": 1, "N": 1, "K": 1}, "tflops": 0.0, "pct_peak": 0.0, "extra": {}}
    bench.save_json([_gpu_result("k1", 80.0, 1.39), {"name": "k2", "shape": {"M": 1, "N": 1, "K": 1},
                                                     "extra": {"status": "n/a: needs sm_100a"}}, zero],
                    folder / "a.json")
    assert eff.find_results_dir(tmp_path / "results") == folder
    files = eff.load_results(folder)
    rows, notes = eff.results_rows(files)
    assert len(rows) == 1 and rows[0]["name"] == "k1" and rows[0]["file"] == "a.json"
    want_tflops = 2 * 8192**3 / 1.39e-3 / 1e12
    assert rows[0]["tflops"] == pytest.approx(want_tflops)
    assert rows[0]["pct_peak"] == pytest.approx(100 * want_tflops / 989)
    assert len(notes) == 2 and "needs sm_100a" in notes[0] and "k3" in notes[1]   # a zero is never data
    fig = eff.plot_results(rows)
    assert fig.axes[0].get_xlabel().startswith("predicted")
    (folder / "bad.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(ValueError, match="bad.json"):
        eff.load_results(folder)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        eff.load_results(tmp_path / "nowhere")


def test_format_table_shows_measured_and_not_run_rows():
    r = _gpu_result("Triton ws", 80.0, 1.39)
    r.extra.update(tile="128x256", predicted_pct=78.0, error_points=r.pct_peak - 78.0)
    text = eff.format_table([r, {"name": "CuTe", "shape": {"M": 8, "N": 8, "K": 8},
                                 "extra": {"status": "n/a: needs sm_100a"}}])
    lines = text.splitlines()
    assert "791.0" in lines[2] and "80.0" in lines[2] and "78.0" in lines[2] and "+2.0" in lines[2]
    assert "n/a: needs sm_100a" in lines[3]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU path's message")
def test_measurement_needs_a_gpu_and_runners_say_why():
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        eff.measure_table()
    a, w = torch.randn(8, 16), torch.randn(4, 16)
    run = eff.make_runner("cublas", a, w)
    assert torch.allclose(run.fn(), a @ w.T)
    cute = eff.make_runner("cute", a, w)
    assert cute.fn is None and cute.status.startswith("n/a")


def test_measure_table_dry_run_on_cpu_exercises_the_gpu_code_path():
    # CPU host-clock timings of tiny shapes: only the bookkeeping is checked, no number is data
    rows = eff.measure_table([(256, 256, 64), (128, 200, 64)], ["cublas", "triton", "cute"], warmup=0, reps=1,
                             progress=False, dry_run_spec="B200")
    by = {(r.extra["kernel"] if hasattr(r, "extra") else r["name"], r.shape["N"] if hasattr(r, "shape")
           else r["shape"]["N"]): r for r in rows}
    assert len(rows) == 6
    tri = by[("triton", 256)]
    assert tri.extra["tile"] == "128x256" and tri.extra["status"] == "ok" and tri.timing.is_cpu
    # off sm_100 the Triton 'ws' step does not warp-specialize, so its epilogue is not overlapped
    want = eff.predict(256, 256, 64, "128x256", "B200", overlap_epilogue=False).pct_of_peak
    assert tri.extra["predicted_pct"] == pytest.approx(want)
    assert tri.extra["error_points"] is None and tri.extra["max_rel_err"] < 1e-5
    cute = by[("CuTe tcgen05 (bwkit.cute_gemm)", 256)]
    assert cute["extra"]["status"].startswith("n/a")
    assert "n/a" in eff.format_table(rows)


@pytest.mark.parametrize("measured, calibrated", [(99.0, False), (3.0, True)])
def test_measure_table_never_clamps_a_measurement_above_the_model(monkeypatch, measured, calibrated):
    """The calibration row of measure_table follows fit_sustained's rule: a measurement above the model's ceiling
    (here a faked 99 % of peak at 512x512x2048, where the model's ceiling is 10.8 %) is not squeezed into
    sustained = 1 silently; the row says so and the kernel stays uncalibrated. Below it, measured / raw."""
    from bwkit import bench

    monkeypatch.setattr(bench.BenchResult, "pct_peak", property(lambda self: measured))
    (row,) = eff.measure_table([(512, 512, 2048)], ["cublas"], warmup=0, reps=1, progress=False,
                               dry_run_spec="B200")
    raw = row.extra["predicted_raw_pct"]
    assert raw == pytest.approx(eff.best_tile(512, 512, 2048, gpu="B200").pct_of_peak)   # cuBLAS: tile assumed
    assert row.extra["calibration"] is calibrated
    if calibrated:
        assert row.extra["sustained"] == pytest.approx(measured / raw) and "above_model" not in row.extra
    else:
        assert row.extra["sustained"] == 1.0 and "not calibrated" in row.extra["above_model"]
        assert "above the model's ceiling: not calibrated" in eff.format_table([row])
        with pytest.raises(ValueError, match="above the model's ceiling"):
            eff.fit_sustained(measured, 512, 512, 2048, row.extra["tile"], "B200")


def test_sweep_marks_are_named_without_overlapping_labels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))        # the lab's right panel: 17290 and 17920 are 3% apart
    eff.plot_sweep(2048, 16384, sorted({*range(1024, 20481, 16), 17290, 17920}), ax=ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in [*ax.texts, *ax.get_legend().get_texts()] if t.get_visible() and t.get_text()]
    assert {"N=17290", "N=17920"} <= {t.get_text() for t in texts}
    boxes = [t.get_window_extent(renderer) for t in texts]
    overlaps = [(texts[i].get_text(), texts[j].get_text()) for i in range(len(boxes))
                for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
    assert not overlaps
    plt.close(fig)
