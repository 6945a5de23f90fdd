"""Lab 10 (CuTe DSL to near-peak): wrong answers as learners write them, and correct ones in other forms."""

from catalogue import Right, Wrong

CATALOGUE = {
    "10.1": [
        Wrong("B not halved in the pair", """
def stages_that_fit(TILE_N, TILE_K, cta_group, epi_bytes):
    stage = (128 + TILE_N) * TILE_K * 2          # A rows + B rows
    return (232448 - epi_bytes) // stage
""", "divide B by cta_group"),
        Wrong("forgot the C buffers", """
def stages_that_fit(TILE_N, TILE_K, cta_group, epi_bytes):
    return 232448 // ((128 + TILE_N // cta_group) * TILE_K * 2)
""", "forgot the epilogue's C buffers"),
        Wrong("228 KiB per SM", """
SMEM_PER_SM = 228 * 1024
def stages_that_fit(TILE_N, TILE_K, cta_group, epi_bytes):
    return (SMEM_PER_SM - epi_bytes) // ((128 + TILE_N // cta_group) * TILE_K * 2)
""", "227 KiB"),
        Wrong("elements, not bytes", """
def stages_that_fit(TILE_N, TILE_K, cta_group, epi_bytes):
    elems = (128 + TILE_N / cta_group) * TILE_K
    return int((232448 - epi_bytes) // elems)
""", "counted elements"),
        Wrong("rounded up", """
import math
def stages_that_fit(TILE_N, TILE_K, cta_group, epi_bytes):
    return math.ceil((232448 - epi_bytes) / ((128 + TILE_N // cta_group) * TILE_K * 2))
""", "rounded up"),
        Right("floor of a float division", """
import math
def stages_that_fit(TILE_N, TILE_K, cta_group, epi_bytes):
    return math.floor((232448 - epi_bytes) / ((128 + TILE_N / cta_group) * TILE_K * 2))
"""),
        Right("count stages in a loop", """
def stages_that_fit(TILE_N, TILE_K, cta_group, epi_bytes):
    per_stage = 2 * TILE_K * (128 + TILE_N // cta_group)
    n = 0
    while (n + 1) * per_stage + epi_bytes <= 227 * 1024:
        n += 1
    return n
"""),
        Right("numpy integers", """
import numpy as np
def stages_that_fit(TILE_N, TILE_K, cta_group, epi_bytes):
    stage = np.int64(TILE_K) * 2 * (128 + TILE_N // cta_group)
    return np.int64(232448 - epi_bytes) // stage
"""),
    ],
    "10.2": [
        Wrong("multicast directions swapped", """
def l2_bytes(TILE_N, TILE_K, cta_group, cluster_m, cluster_n):
    a = 128 * TILE_K * 2 / (cluster_m // cta_group)     # A shared along M?
    b = TILE_N // cta_group * TILE_K * 2 / cluster_n
    return a + b
""", "swapped"),
        Wrong("no multicast", """
def l2_bytes(TILE_N, TILE_K, cta_group, cluster_m, cluster_n):
    return (128 + TILE_N // cta_group) * TILE_K * 2
""", "without multicast"),
        Wrong("whole B per CTA", """
def l2_bytes(TILE_N, TILE_K, cta_group, cluster_m, cluster_n):
    a = 128 * TILE_K * 2 / cluster_n
    b = TILE_N * TILE_K * 2 / (cluster_m // cta_group)
    return a + b
""", "only TILE_N / 2 rows of B"),
        Wrong("B shared by all cluster_m CTAs", """
def l2_bytes(TILE_N, TILE_K, cta_group, cluster_m, cluster_n):
    return 128 * TILE_K * 2 / cluster_n + (TILE_N // cta_group) * TILE_K * 2 / cluster_m
""", "cluster_m / cta_group"),
        Wrong("elements, not bytes", """
def l2_bytes(TILE_N, TILE_K, cta_group, cluster_m, cluster_n):
    return 128 * TILE_K / cluster_n + TILE_N / cta_group * TILE_K / (cluster_m / cta_group)
""", "counted elements"),
        Wrong("in KiB, like the table", """
def l2_bytes(TILE_N, TILE_K, cta_group, cluster_m, cluster_n):
    a_kib = 128 * TILE_K * 2 / 1024 / cluster_n
    b_kib = TILE_N // cta_group * TILE_K * 2 / 1024 / (cluster_m // cta_group)
    return a_kib + b_kib                 # KiB per CTA per K step
""", "that is in KiB"),
        Right("with bwkit.pipeline.stage_traffic", """
from bwkit import pipeline as pl
def l2_bytes(TILE_N, TILE_K, cta_group, cluster_m, cluster_n):
    t = pl.stage_traffic(128 * cta_group, TILE_N, TILE_K, 2, cta_group=cta_group,
                         multicast_a=cluster_n, multicast_b=cluster_m // cta_group)
    return t.l2_bytes
"""),
        Right("rows first", """
def l2_bytes(TILE_N, TILE_K, cta_group, cluster_m, cluster_n):
    pairs_along_m = cluster_m // cta_group
    rows = 128 / cluster_n + TILE_N / cta_group / pairs_along_m
    return float(rows * TILE_K * 2)
"""),
    ],
    "10.3": [
        Wrong("tiles over all SMs", """
import math
def tiles_per_cta(M, N, TILE_N, cluster_m, cluster_n, sms):
    cta_tiles = (M // 128) * (N // TILE_N)
    return math.ceil(cta_tiles / sms)
""", "spreading CTA tiles over every SM"),
        Wrong("floor division", """
def tiles_per_cta(M, N, TILE_N, cluster_m, cluster_n, sms):
    cluster_tiles = (M // (128 * cluster_m)) * (N // (TILE_N * cluster_n))
    return cluster_tiles // (sms // (cluster_m * cluster_n))
""", "rounded down"),
        Wrong("CTA tiles over clusters", """
import math
def tiles_per_cta(M, N, TILE_N, cluster_m, cluster_n, sms):
    clusters = sms // (cluster_m * cluster_n)
    return math.ceil((M // 128) * (N // TILE_N) / clusters)
""", "divided CTA tiles by the number of clusters"),
        Wrong("whole cluster tiles only", """
import math
def tiles_per_cta(M, N, TILE_N, cluster_m, cluster_n, sms):
    cluster_tiles = (M // (128 * cluster_m)) * (N // (TILE_N * cluster_n))
    clusters = sms // (cluster_m * cluster_n)
    return math.ceil(cluster_tiles / clusters)
""", "a partial cluster tile still needs a cluster"),
        Wrong("cluster axes swapped", """
import math
def tiles_per_cta(M, N, TILE_N, cluster_m, cluster_n, sms):
    rows = math.ceil(M / (128 * cluster_n))           # clusters along M
    cols = math.ceil(N / (TILE_N * cluster_m))        # clusters along N
    resident = min(rows * cols, sms // (cluster_m * cluster_n))
    return math.ceil(rows * cols / resident)
""", "cluster_m runs along M"),
        Wrong("256-row CTA tiles", """
import math
def tiles_per_cta(M, N, TILE_N, cluster_m, cluster_n, sms):
    cluster_tiles = math.ceil(M / (256 * cluster_m)) * math.ceil(N / (TILE_N * cluster_n))
    return math.ceil(cluster_tiles / (sms // (cluster_m * cluster_n)))
""", "128 rows"),
        Wrong("area over a cluster tile's", """
import math
def tiles_per_cta(M, N, TILE_N, cluster_m, cluster_n, sms):
    cluster_tiles = math.ceil(M * N / (128 * cluster_m * TILE_N * cluster_n))
    return math.ceil(cluster_tiles / (sms // (cluster_m * cluster_n)))
""", "divided the area M x N"),
        Wrong("// + 1 for the last round", """
import math
def tiles_per_cta(M, N, TILE_N, cluster_m, cluster_n, sms):
    cluster_tiles = math.ceil(M / (128 * cluster_m)) * math.ceil(N / (TILE_N * cluster_n))
    return cluster_tiles // (sms // (cluster_m * cluster_n)) + 1     # + the partial last round
""", "tiles // clusters + 1"),
        Right("integer ceil", """
def tiles_per_cta(M, N, TILE_N, cluster_m, cluster_n, sms):
    ct = -(-M // (128 * cluster_m)) * -(-N // (TILE_N * cluster_n))
    resident = min(ct, sms // (cluster_m * cluster_n))
    return -(-ct // resident)
"""),
        Right("simulate the static schedule", """
import math
def tiles_per_cta(M, N, TILE_N, cluster_m, cluster_n, sms):
    work = math.ceil(M / (128 * cluster_m)) * math.ceil(N / (TILE_N * cluster_n))
    clusters = min(work, sms // (cluster_m * cluster_n))
    return max(len(range(c, work, clusters)) for c in range(clusters))
"""),
    ],
    "10.4": [
        Wrong("no rounding", """
def tmem_alloc(tile_n, acc_stages):
    return tile_n * acc_stages
""", "power of two"),
        Wrong("no 32-column minimum", """
import math
def tmem_alloc(tile_n, acc_stages):
    return 2 ** math.ceil(math.log2(tile_n * acc_stages))
""", "never fewer than 32"),
        Wrong("multiple of 32", """
def tmem_alloc(tile_n, acc_stages):
    cols = tile_n * acc_stages
    return (cols + 31) // 32 * 32
""", "not to a multiple of 32"),
        Wrong("bytes", """
def tmem_alloc(tile_n, acc_stages):
    nbytes = tile_n * acc_stages * 4          # FP32
    cols = 32
    while cols < nbytes:
        cols *= 2
    return cols
""", "counts bytes"),
        Wrong("one accumulator", """
def tmem_alloc(tile_n, acc_stages):
    cols = 32
    while cols < tile_n:
        cols *= 2
    return cols
""", "multiply by acc_stages"),
        Right("bit_length", """
def tmem_alloc(tile_n, acc_stages):
    return max(32, 1 << (tile_n * acc_stages - 1).bit_length())
"""),
        Right("first allocation that fits", """
def tmem_alloc(tile_n, acc_stages):
    return next(c for c in (32, 64, 128, 256, 512) if c >= tile_n * acc_stages)
"""),
    ],
    "10.5": [
        Wrong("every epilogue added", """
def persistent_time(t_mainloop, t_epilogue, tiles, acc_stages):
    return tiles * (t_mainloop + t_epilogue)
""", "do not add every epilogue"),
        Wrong("last epilogue forgotten", """
def persistent_time(t_mainloop, t_epilogue, tiles, acc_stages):
    if acc_stages == 1:
        return tiles * (t_mainloop + t_epilogue)
    return tiles * max(t_mainloop, t_epilogue)
""", "last tile's epilogue"),
        Wrong("epilogue assumed shorter", """
def persistent_time(t_mainloop, t_epilogue, tiles, acc_stages):
    if acc_stages == 1:
        return tiles * (t_mainloop + t_epilogue)
    return tiles * t_mainloop + t_epilogue        # epilogues hide under the mainloops
""", "sets the pace"),
        Wrong("overlap with one accumulator too", """
def persistent_time(t_mainloop, t_epilogue, tiles, acc_stages):
    return t_mainloop + (tiles - 1) * max(t_mainloop, t_epilogue) + t_epilogue
""", "nothing overlaps"),
        Wrong("in ms", """
def persistent_time(t_mainloop, t_epilogue, tiles, acc_stages):
    if acc_stages == 1:
        us = tiles * (t_mainloop + t_epilogue)
    else:
        us = t_mainloop + (tiles - 1) * max(t_mainloop, t_epilogue) + t_epilogue
    return us / 1000                                   # ms
""", "that is in ms"),
        Right("event simulation", """
def persistent_time(t_mainloop, t_epilogue, tiles, acc_stages):
    mma_free, epi_done = 0.0, []
    for i in range(tiles):
        start = mma_free
        if i >= acc_stages:
            start = max(start, epi_done[i - acc_stages])     # wait for a drained accumulator
        end = start + t_mainloop
        epi_done.append(max(end, epi_done[-1] if epi_done else 0.0) + t_epilogue)
        mma_free = end
    return epi_done[-1]
"""),
        Right("closed form with max", """
def persistent_time(t_mainloop, t_epilogue, tiles, acc_stages):
    if acc_stages == 2:
        return max(tiles * t_mainloop + t_epilogue, t_mainloop + tiles * t_epilogue)
    return tiles * t_mainloop + tiles * t_epilogue
"""),
    ],
}
