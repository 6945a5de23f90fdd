"""bwkit.pipeline: the TMA -> MMA -> epilogue timeline model against closed forms worked out by hand."""

import math

import pytest

from bwkit import pipeline as pl


def _cfg(**kw):
    # round numbers: mma 100 ns, transfer 50 ns, latency 300 ns, epilogue 400 ns
    base = dict(BLOCK_M=128, BLOCK_N=128, BLOCK_K=64, bytes_per_element=2.0, k_steps=8, tiles=1,
                flops_per_ns=2 * 128 * 128 * 64 / 100.0, bytes_per_ns=(128 + 128) * 64 * 2 / 50.0,
                load_latency_ns=300.0, epilogue_ns=400.0, stages=2, acc_buffers=1)
    base.update(kw)
    return pl.PipelineConfig(**base)


def test_derived_quantities():
    c = pl.PipelineConfig()   # 128x256x64 bf16
    assert c.stage_bytes == (128 + 256) * 64 * 2 == 49152
    assert c.smem_bytes == 4 * 49152
    assert math.isclose(c.mma_ns, 2 * 128 * 256 * 64 / (2.25e15 / 148 / 1e9))
    assert math.isclose(c.transfer_ns, 49152 / 200.0)
    cc = _cfg()
    assert math.isclose(cc.mma_ns, 100.0) and math.isclose(cc.transfer_ns, 50.0)


def test_single_step_is_the_sum_of_latencies():
    t = pl.simulate(_cfg(k_steps=1))
    assert math.isclose(t.makespan_ns, 300 + 50 + 100 + 400)
    assert [e.unit for e in t.events] == ["TMA", "MMA", "epilogue"]


def test_one_stage_serializes_everything():
    t = pl.simulate(_cfg(stages=1))
    assert math.isclose(t.makespan_ns, 8 * (300 + 50 + 100) + 400)
    assert t.max_bytes_in_flight == t.config.stage_bytes


def test_enough_stages_hide_the_latency():
    # each slot cycles through load (L + T) and MMA (t): ceil((L + T + t) / t) = ceil(4.5) = 5 slots keep
    # the Tensor Core busy; then the makespan is the first load + K MMAs back to back + the epilogue.
    for s in (5, 6, 12):
        t = pl.simulate(_cfg(stages=s, k_steps=40))
        assert math.isclose(t.makespan_ns, 300 + 50 + 40 * 100 + 400), s
    t4 = pl.simulate(_cfg(stages=4, k_steps=40))
    assert t4.makespan_ns > 300 + 50 + 40 * 100 + 400 + 100
    # with S < 5 slots the steady state runs S steps per (L + T + t) = 450 ns: 20 pairs of MMAs
    t2 = pl.simulate(_cfg(stages=2, k_steps=40))
    assert math.isclose(t2.makespan_ns, 300 + 50 + 19 * 450 + 2 * 100 + 400)


def test_sweep_is_monotone_and_saturates():
    sweep = pl.sweep_stages(_cfg(k_steps=64), range(1, 9))
    tf = [t.tflops for t in sweep]
    assert all(b >= a - 1e-12 for a, b in zip(tf, tf[1:], strict=False))
    assert math.isclose(tf[4], tf[7])           # 5 stages already saturate
    assert tf[3] < 0.95 * tf[4]
    for t in sweep:
        assert t.max_bytes_in_flight <= t.config.stages * t.config.stage_bytes


def test_from_times_and_min_stages():
    c = pl.PipelineConfig.from_times(300.0, 50.0, 100.0, BLOCK_N=128)
    assert math.isclose(c.load_latency_ns, 300) and math.isclose(c.transfer_ns, 50) and math.isclose(c.mma_ns, 100)
    assert c.BLOCK_N == 128
    assert pl.min_stages(c) == 5                       # ceil((300 + 50 + 100) / 100) = ceil(4.5)
    assert pl.min_stages(pl.PipelineConfig()) == 5      # lab 01: (800 + 246 + 276) / 276 = 4.8
    assert pl.min_stages(pl.PipelineConfig.from_times(500.0, 100.0, 200.0)) == 4   # exactly 4.0
    with pytest.raises(ValueError, match="mma_ns must be a number > 0"):
        pl.PipelineConfig.from_times(300.0, 50.0, 0.0)
    with pytest.raises(ValueError, match="load_latency_ns"):
        pl.PipelineConfig.from_times(-1.0, 50.0, 100.0)
    with pytest.raises(TypeError, match="PipelineConfig"):
        pl.min_stages({"stages": 4})
    with pytest.raises(ValueError, match="max_stages"):
        pl.min_stages(c, max_stages=0)


def test_bandwidth_bound_when_transfer_exceeds_mma():
    # transfer 200 ns > mma 100 ns: with many stages the pipe, not the Tensor Core, sets the pace
    c = _cfg(bytes_per_ns=(128 + 128) * 64 * 2 / 200.0, stages=16, k_steps=50)
    t = pl.simulate(c)
    assert math.isclose(t.makespan_ns, 300 + 50 * 200 + 100 + 400)
    assert t.mma_busy < 0.5


def test_double_buffered_accumulator_overlaps_the_epilogue():
    one = pl.simulate(_cfg(stages=8, k_steps=8, tiles=4, acc_buffers=1, epilogue_ns=600.0))
    two = pl.simulate(_cfg(stages=8, k_steps=8, tiles=4, acc_buffers=2, epilogue_ns=600.0))
    # one buffer: tile t+1's MMAs wait for tile t's epilogue: 350 + 4 x (800 + 600)
    assert math.isclose(one.makespan_ns, 350 + 4 * (800 + 600))
    # two buffers: MMAs never wait for the (shorter than 800 ns) epilogue
    assert math.isclose(two.makespan_ns, 350 + 4 * 800 + 600)
    assert two.tflops > one.tflops


def test_one_cta_per_tile_refills_the_pipe_for_every_tile():
    one = pl.simulate(_cfg(stages=8, k_steps=8))
    assert math.isclose(one.makespan_ns, 350 + 8 * 100 + 400)           # fill, 8 MMAs, epilogue
    cta = pl.simulate(_cfg(stages=8, k_steps=8, tiles=3, persistent=False))
    assert math.isclose(cta.makespan_ns, 3 * one.makespan_ns)            # tile t + 1's loads wait for t's epilogue
    first = [e.start for e in cta.events if e.unit == "TMA" and e.k == 0]
    assert first == pytest.approx([0.0, 1550.0, 3100.0])
    kept = pl.simulate(_cfg(stages=8, k_steps=8, tiles=3, acc_buffers=1))  # persistent: loads run ahead
    assert math.isclose(kept.makespan_ns, 350 + 3 * (800 + 400)) and kept.tflops > cta.tflops
    # acc_buffers cannot overlap what one CTA per tile serializes
    assert pl.simulate(_cfg(stages=8, k_steps=8, tiles=3, acc_buffers=2, persistent=False)).makespan_ns == \
        cta.makespan_ns


def test_flops_and_tflops():
    t = pl.simulate(_cfg(stages=8, k_steps=10, tiles=2, acc_buffers=2))
    assert t.flops == 2 * 128 * 128 * 64 * 10 * 2
    assert math.isclose(t.tflops, t.flops / t.makespan_ns / 1e3)
    assert "TFLOP/s per SM (model)" in t.summary()


def test_stage_traffic_2cta_and_multicast():
    one = pl.stage_traffic(128, 256, 64)
    assert (one.smem_bytes, one.l2_bytes, one.flops) == (49152, 49152, 2 * 128 * 256 * 64)
    pair = pl.stage_traffic(256, 256, 64, cta_group=2)       # same 128x256 output per CTA
    assert pair.smem_bytes == (128 + 128) * 64 * 2 and pair.flops == one.flops
    assert one.smem_bytes - pair.smem_bytes == 128 * 64 * 2  # half of B stays in the peer CTA
    mc = pl.stage_traffic(128, 256, 64, multicast_b=2)
    assert mc.smem_bytes == one.smem_bytes and mc.l2_bytes == 128 * 64 * 2 + 256 * 64 * 2 / 2
    assert math.isclose(mc.intensity, one.flops / mc.l2_bytes)


@pytest.mark.parametrize("kw,match", [
    (dict(stages=0), "stages must be a positive int"),
    (dict(BLOCK_K=1.5), "BLOCK_K"),
    (dict(bytes_per_ns=0), "bytes_per_ns"),
    (dict(load_latency_ns=-1), "load_latency_ns"),
    (dict(persistent="no"), "persistent must be True or False"),
])
def test_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        pl.PipelineConfig(**kw)


def test_bad_inputs():
    with pytest.raises(TypeError, match="PipelineConfig"):
        pl.simulate({"stages": 2})
    with pytest.raises(ValueError, match="at least one"):
        pl.sweep_stages(_cfg(), [])
    with pytest.raises(ValueError, match="cta_group"):
        pl.stage_traffic(128, 128, 64, cta_group=4)
    with pytest.raises(ValueError, match="split evenly"):
        pl.stage_traffic(127, 24, 64, cta_group=2)


def test_plots_have_titles_and_units():
    import matplotlib

    matplotlib.use("Agg")
    sweep = pl.sweep_stages(pl.PipelineConfig(), range(1, 7))
    fig = pl.plot_stages(sweep)
    ax = fig.axes[0]
    assert "stages" in ax.get_xlabel() and "TFLOP/s" in ax.get_ylabel() and ax.get_title()
    fig2 = pl.plot_timeline(sweep[2], max_ns=5000)
    assert "ns" in fig2.axes[0].get_xlabel()
