import math

import pytest

from bwkit import hw


def test_every_spec_has_sources_and_positive_figures():
    for name in ["B200", "GB200", "H100 SXM", "H100 PCIe", "H200", "RTX 5090"]:
        s = hw.get_spec(name)
        assert s.sms > 0 and s.hbm_gb > 0 and s.hbm_tbps > 0
        for key in ("peak_tflops", "hbm", "sms", "smem", "tmem"):
            assert s.sources.get(key), f"{name}: no source for {key}"
        assert all(v > 0 for v in s.peak_tflops.values())


def test_published_figures():
    b = hw.get_spec("B200")
    assert (b.peak_tflops["fp4"], b.peak_tflops["fp8"], b.peak_tflops["bf16"]) == (9000, 4500, 2250)
    assert (b.hbm_gb, b.hbm_tbps, b.sms, b.tmem_kb_per_sm) == (180, 8.0, 148, 256)
    h = hw.get_spec("H200")
    assert (h.peak_tflops["bf16"], h.hbm_gb, h.hbm_tbps, h.sms) == (989, 141, 4.8, 132)
    assert "fp4" not in hw.get_spec("H100 SXM").peak_tflops
    assert hw.get_spec("RTX 5090").arch == "sm_120" and hw.get_spec("RTX 5090").tmem_kb_per_sm == 0


def test_spec_for_device_tells_h100_sxm_from_pcie():
    sxm, pcie = hw.get_spec("H100 SXM"), hw.get_spec("H100 PCIe")
    assert (pcie.sms, pcie.hbm_gb, pcie.hbm_tbps, pcie.peak_tflops["bf16"]) == (114, 80, 2.0, 756.5)
    assert "PCIe" in pcie.sources["peak_tflops"] and "114 SMs" in pcie.sources["sms"]
    assert hw.spec_for_device("NVIDIA H100 80GB HBM3") is sxm
    assert hw.spec_for_device("NVIDIA H100 PCIe") is pcie
    assert hw.spec_for_device("NVIDIA H100", 79.2, 114) is pcie           # the SM count decides
    assert hw.spec_for_device("NVIDIA H100 80GB HBM3", 79.6, 132) is sxm
    assert hw.spec_for_device("NVIDIA H100 NVL", 93.1, 132) is None        # no entry: not the SXM part
    assert hw.spec_for_device("NVIDIA H200", 139.8, 132).name == "H200"
    assert hw.spec_for_device("NVIDIA GB200").name == "GB200" and hw.spec_for_device("NVIDIA B200").name == "B200"
    assert hw.spec_for_device("Tesla T4") is None
    assert hw.ridge_point("H100 PCIe", "bf16") == pytest.approx(756.5 / 2.0)
    with pytest.raises(TypeError):
        hw.spec_for_device(None)


def test_aliases():
    assert hw.get_spec("h100").name == "H100 SXM" and hw.get_spec("h100 pcie").name == "H100 PCIe"
    assert hw.get_spec("rtx5090").name == "RTX 5090"


def test_ridge_and_attainable():
    assert hw.ridge_point("B200", "fp8") == pytest.approx(4500e12 / 8e12)
    assert hw.ridge_point("H100 SXM", "bf16") == pytest.approx(989 / 3.35)
    # memory-bound side: bandwidth x intensity; compute-bound side: the peak
    assert hw.attainable_flops("H200", "bf16", 10) == pytest.approx(4.8e12 * 10)
    assert hw.attainable_flops("H200", "bf16", 1e4) == pytest.approx(989e12)


def test_gemm_intensity():
    assert hw.gemm_intensity(8192, 8192, 8192) == pytest.approx(2 * 8192**3 / (3 * 8192**2 * 2))
    # skinny GEMM with 1-byte weights: ~2M FLOP/byte
    assert hw.gemm_intensity(16, 4096, 7168, 1, 1, 2) == pytest.approx(
        2 * 16 * 4096 * 7168 / (16 * 7168 + 7168 * 4096 + 16 * 4096 * 2))


def test_cpu_spec_is_measured_and_labelled():
    s = hw.get_spec("cpu")
    assert s.arch == "cpu" and s.peak_tflops["tf32"] > 0 and s.hbm_tbps > 0
    assert "measured here" in s.sources["peak_tflops"]


@pytest.mark.parametrize("bad,err", [("B300", "known: B200"), ("", "known")])
def test_unknown_gpu_lists_known(bad, err):
    with pytest.raises(ValueError, match=err):
        hw.get_spec(bad)


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown precision"):
        hw.peak_flops("B200", "fp16x")
    with pytest.raises(ValueError, match="no fp4"):
        hw.peak_flops("H100 SXM", "fp4")
    with pytest.raises(ValueError, match="positive"):
        hw.attainable_flops("B200", "fp8", 0)
    with pytest.raises(ValueError, match="M must be"):
        hw.gemm_intensity(0, 1, 1)
    for kw in ({"a_bytes": -2}, {"b_bytes": 0}, {"c_bytes": float("nan")}, {"a_bytes": True}):
        with pytest.raises(ValueError, match="bytes per element"):   # -2 once gave 8.0 FLOP/byte
            hw.gemm_intensity(8, 8, 8, **kw)
    assert hw.gemm_intensity(8, 8, 8, 0.5, 0.5, 2) == pytest.approx(2 * 512 / (64 * 0.5 * 2 + 64 * 2))  # FP4
    with pytest.raises(TypeError):
        hw.get_spec(100)


def test_roofline_plot_has_lines_and_labels():
    import matplotlib

    matplotlib.use("Agg")
    fig = hw.plot_roofline(["B200", "H100 SXM"], ["fp4", "fp8"], points=[("x", 10.0)])
    ax = fig.axes[0]
    labels = [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    assert labels == ["B200 fp4", "B200 fp8", "H100 SXM fp8"]  # H100 has no fp4 line
    assert ax.get_xscale() == "log" and "FLOP / byte" in ax.get_xlabel()
    # the B200 fp8 line is flat at the peak far right of the ridge
    line = ax.get_lines()[1]
    assert math.isclose(line.get_ydata()[-1], 4500)
