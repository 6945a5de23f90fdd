"""Lab 06 (near-peak GEMM): wrong answers as learners write them, and correct ones in other forms."""

from catalogue import Right, Wrong

_TFLOPS_OK = """
def implied_tflops(M, N, K, ms):
    return 2 * M * N * K / (ms * 1e-3) / 1e12
"""

CATALOGUE = {
    "06.1": [
        Wrong("one FLOP per multiply-add", """
def implied_tflops(M, N, K, ms):
    return M * N * K / (ms * 1e-3) / 1e12
what_was_measured = "the launch"
""", "a multiply-add is 2 FLOPs"),
        Wrong("milliseconds taken as seconds", """
def implied_tflops(M, N, K, ms):
    return 2 * M * N * K / ms / 1e12
what_was_measured = "the launch"
""", "off by 1000"),
        Wrong("FLOP/s", """
def implied_tflops(M, N, K, ms):
    seconds = ms / 1000
    return 2 * M * N * K / seconds
what_was_measured = "the launch"
""", "FLOP/s, not TFLOP/s"),
        Wrong("believed the timing", _TFLOPS_OK + """
what_was_measured = "the GEMM"
""", "no GEMM of this size can beat"),
        Wrong("blamed the L2 flush", _TFLOPS_OK + """
what_was_measured = "the L2 flush"
""", "nothing flushed L2"),
        Wrong("FLOP per millisecond", """
def implied_tflops(M, N, K, ms):
    return 2 * M * N * K / ms
what_was_measured = "the launch"
""", "FLOP per millisecond"),
        Wrong("the colleague's 0.05 ms hard-coded", """
def implied_tflops(M, N, K, ms):
    return 2 * M * N * K / (0.05 * 1e-3) / 1e12
what_was_measured = "the launch"
""", "hard-coded the colleague's 0.05 ms"),
        Right("bench.gemm_flops, capitalised choice", """
def implied_tflops(M, N, K, ms):
    return bench.gemm_flops(M, N, K) / ms / 1e9
what_was_measured = "The launch"
"""),
        Right("numpy float32", """
import numpy as np
def implied_tflops(M, N, K, ms):
    return np.float32(2.0 * M * N * K) / np.float32(ms) * np.float32(1e-9)
what_was_measured = " the launch "
"""),
    ],
    "06.2": [
        Wrong("upside down", """
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    padded = math.ceil(M / BLOCK_M) * BLOCK_M * math.ceil(N / BLOCK_N) * BLOCK_N * math.ceil(K / BLOCK_K) * BLOCK_K
    return padded / (M * N * K)
""", "upside down"),
        Wrong("K not padded", """
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    return M * N / (math.ceil(M / BLOCK_M) * BLOCK_M * math.ceil(N / BLOCK_N) * BLOCK_N)
""", "forgot to pad K"),
        Wrong("floor division", """
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    padded = (M // BLOCK_M) * BLOCK_M * (N // BLOCK_N) * BLOCK_N * (K // BLOCK_K) * BLOCK_K
    return M * N * K / padded
""", "rounded the tile counts down"),
        Wrong("the waste", """
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    padded = math.ceil(M / BLOCK_M) * BLOCK_M * math.ceil(N / BLOCK_N) * BLOCK_N * math.ceil(K / BLOCK_K) * BLOCK_K
    return (padded - M * N * K) / padded
""", "wasted fraction"),
        Wrong("round to nearest", """
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    padded = round(M / BLOCK_M) * BLOCK_M * round(N / BLOCK_N) * BLOCK_N * round(K / BLOCK_K) * BLOCK_K
    return M * N * K / padded
""", "nearest (round)"),
        Wrong("a percentage", """
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    padded = math.ceil(M / BLOCK_M) * BLOCK_M * math.ceil(N / BLOCK_N) * BLOCK_N * math.ceil(K / BLOCK_K) * BLOCK_K
    return 100 * M * N * K / padded
""", "a percentage"),
        Wrong("(x + b) // b", """
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    up = lambda x, b: (x + b) // b * b
    return M * N * K / (up(M, BLOCK_M) * up(N, BLOCK_N) * up(K, BLOCK_K))
""", "one tile too many"),
        Wrong("blocks swapped", """
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    padded = math.ceil(M / BLOCK_N) * BLOCK_N * math.ceil(N / BLOCK_M) * BLOCK_M * math.ceil(K / BLOCK_K) * BLOCK_K
    return M * N * K / padded
""", "swapped the blocks"),
        Wrong("tile counts, not padded sizes", """
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    return M * N * K / (math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N) * math.ceil(K / BLOCK_K))
""", "divided by the tile counts"),
        Right("integer ceil, per dimension", """
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    eff_of = lambda x, b: x / (-(-x // b) * b)
    return eff_of(M, BLOCK_M) * eff_of(N, BLOCK_N) * eff_of(K, BLOCK_K)
"""),
        Right("numpy", """
import numpy as np
def tile_eff(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K):
    dims, blocks = np.array([M, N, K], dtype=np.float64), np.array([BLOCK_M, BLOCK_N, BLOCK_K])
    return float(np.prod(dims / (np.ceil(dims / blocks) * blocks)))
"""),
    ],
    "06.3": [
        Wrong("tile counts floored", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    tiles = (M // BLOCK_M) * (N // BLOCK_N)
    full = math.ceil(tiles / num_slots)
    return tiles, full, tiles / (full * num_slots)
""", "rounded the tile counts down"),
        Wrong("waves floored", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    full = tiles // num_slots
    return tiles, full, tiles / (full * num_slots)
""", "rounded the waves down"),
        Wrong("one wave too many on an exact fit", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    t = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    f = t // num_slots + 1
    return t, f, t / (f * num_slots)
""", "one wave too many"),
        Wrong("efficiency in %", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    full = math.ceil(tiles / num_slots)
    return tiles, full, 100 * tiles / (full * num_slots)
""", "as a percentage"),
        Wrong("fractional waves", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    w = tiles / num_slots
    return tiles, w, tiles / (w * num_slots)
""", "fractional waves"),
        Wrong("efficiency inverted", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    full = math.ceil(tiles / num_slots)
    return tiles, full, full * num_slots / tiles
""", "upside down"),
        Wrong("blocks swapped", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    tiles = math.ceil(M / BLOCK_N) * math.ceil(N / BLOCK_M)
    full = math.ceil(tiles / num_slots)
    return tiles, full, tiles / (full * num_slots)
""", "swapped the blocks"),
        Wrong("the last wave's fill", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    full = math.ceil(tiles / num_slots)
    last = tiles - (full - 1) * num_slots          # tiles in the last wave
    return tiles, full, last / num_slots
""", "how full the last wave is"),
        Wrong("148 slots hard-coded", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    full = math.ceil(tiles / 148)                  # one tile per SM on a B200
    return tiles, full, tiles / (full * 148)
""", "you used 148"),
        Right("a list, with bwkit.efficiency", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    tm, tn, _ = eff.tile_counts(M, N, 1, (BLOCK_M, BLOCK_N, 1))
    tiles = tm * tn
    return [tiles, -(-tiles // num_slots), eff.wave_efficiency(tiles, num_slots)]
"""),
        Right("a round-robin loop", """
def waves(M, N, BLOCK_M, BLOCK_N, num_slots):
    tiles = -(-M // BLOCK_M) * -(-N // BLOCK_N)
    busy = [0] * num_slots
    for t in range(tiles):
        busy[t % num_slots] += 1
    return tiles, max(busy), sum(busy) / (max(busy) * num_slots)
"""),
    ],
    "06.4": [
        Wrong("a fraction", """
def predict_pct(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, num_slots, sustained=1.0):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    return sustained * eff.tile_efficiency(M, N, K, (BLOCK_M, BLOCK_N, BLOCK_K)) * eff.wave_efficiency(tiles, num_slots)
""", "a percentage"),
        Wrong("no wave efficiency", """
def predict_pct(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, num_slots, sustained=1.0):
    return 100 * sustained * eff.tile_efficiency(M, N, K, (BLOCK_M, BLOCK_N, BLOCK_K))
""", "left out the wave efficiency"),
        Wrong("no tile efficiency", """
def predict_pct(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, num_slots, sustained=1.0):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    return 100 * sustained * eff.wave_efficiency(tiles, num_slots)
""", "left out the tile efficiency"),
        Wrong("sustained forgotten", """
def predict_pct(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, num_slots, sustained=1.0):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    return 100 * eff.tile_efficiency(M, N, K, (BLOCK_M, BLOCK_N, BLOCK_K)) * eff.wave_efficiency(tiles, num_slots)
""", "forgot the sustained factor"),
        Wrong("divided by sustained", """
def predict_pct(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, num_slots, sustained=1.0):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    te = eff.tile_efficiency(M, N, K, (BLOCK_M, BLOCK_N, BLOCK_K))
    return 100 * te * eff.wave_efficiency(tiles, num_slots) / sustained
""", "divided by the sustained factor"),
        Wrong("blocks swapped", """
def predict_pct(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, num_slots, sustained=1.0):
    tiles = math.ceil(M / BLOCK_N) * math.ceil(N / BLOCK_M)
    te = eff.tile_efficiency(M, N, K, (BLOCK_N, BLOCK_M, BLOCK_K))
    return 100 * sustained * te * eff.wave_efficiency(tiles, num_slots)
""", "swapped the blocks"),
        Wrong("148 slots hard-coded", """
def predict_pct(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, num_slots, sustained=1.0):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    te = eff.tile_efficiency(M, N, K, (BLOCK_M, BLOCK_N, BLOCK_K))
    return 100 * sustained * te * eff.wave_efficiency(tiles, 148)
""", "you used 148"),
        Wrong("tile efficiency without K", """
def predict_pct(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, num_slots, sustained=1.0):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    te = M * N / (tiles * BLOCK_M * BLOCK_N)
    return 100 * sustained * te * eff.wave_efficiency(tiles, num_slots)
""", "leaves out K"),
        Right("work over time, no efficiencies", """
def predict_pct(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, num_slots, sustained=1.0):
    cdiv = lambda a, b: -(-a // b)
    tiles = cdiv(M, BLOCK_M) * cdiv(N, BLOCK_N)
    padded_tile = BLOCK_M * BLOCK_N * cdiv(K, BLOCK_K) * BLOCK_K
    time = cdiv(tiles, num_slots) * padded_tile / sustained     # in units of one slot's work per time
    return 100 * M * N * K / (time * num_slots)
"""),
        Right("numpy float32", """
import numpy as np
def predict_pct(M, N, K, BLOCK_M, BLOCK_N, BLOCK_K, num_slots, sustained=1.0):
    tiles = math.ceil(M / BLOCK_M) * math.ceil(N / BLOCK_N)
    te = np.float32(eff.tile_efficiency(M, N, K, (BLOCK_M, BLOCK_N, BLOCK_K)))
    return np.float32(100) * np.float32(sustained) * te * np.float32(tiles / (math.ceil(tiles / num_slots) * num_slots))
"""),
    ],
    "06.5": [
        Wrong("the bigger tile", 'tile_choice = "128x256"', "whose last wave costs less"),
        Wrong("the tie that loads more", 'tile_choice = "128x128"', "it ties at"),
        Wrong("not an option", 'tile_choice = "256x128"', "not one of the options"),
        Right("padded", 'tile_choice = " 256x128 2-CTA "'),
        Right("from the model", 'tile_choice = eff.best_tile(2048, 17290, 16384, gpu="B200", precision="bf16").tile'),
        Right("other case", 'tile_choice = "256X128 2-cta"'),
    ],
    "06.6": [
        Wrong("not calibrated", """
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    return raw_target_pct
""", "without calibrating"),
        Wrong("times the measured %", """
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    return measured_pct * raw_target_pct
""", "instead of by the fitted fraction"),
        Wrong("measured value carried over", """
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    return measured_pct
""", "carried the measured value over"),
        Wrong("fraction upside down", """
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    sustained = raw_cal_pct / measured_pct
    return sustained * raw_target_pct
""", "upside down"),
        Wrong("shapes swapped", """
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    return measured_pct / raw_target_pct * raw_cal_pct
""", "swapped the shapes"),
        Wrong("a fraction", """
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    return measured_pct / raw_cal_pct * raw_target_pct / 100
""", "a percentage"),
        Wrong("measured % as a fraction of the peak", """
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    return measured_pct / 100 * raw_target_pct
""", "measured / 100"),
        Wrong("shifted by the difference", """
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    loss = raw_cal_pct - measured_pct              # points the real kernel loses
    return raw_target_pct - loss
""", "shifted by the difference"),
        Wrong("the lab's 80% hard-coded", """
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    return 80.0 / raw_cal_pct * raw_target_pct
""", "hard-coded the lab's 80%"),
        Right("capped like fit_sustained", """
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    return raw_target_pct * min(1.0, measured_pct / raw_cal_pct)
"""),
        Right("numpy", """
import numpy as np
def calibrated_prediction(measured_pct, raw_cal_pct, raw_target_pct):
    return float(np.divide(measured_pct, raw_cal_pct) * np.float64(raw_target_pct))
"""),
    ],
}
