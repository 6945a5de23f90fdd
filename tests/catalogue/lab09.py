"""Lab 09 (Gluon tcgen05 ladder): wrong answers as learners write them, and correct ones in other forms."""

from catalogue import Right, Wrong

CATALOGUE = {
    "09.1": [
        Wrong("any mbarrier counts", """
def mma_is_waited(ptx):
    return "mbarrier" in ptx
""", "never committed"),
        Wrong("tcgen05.wait is the MMA wait", """
def mma_is_waited(ptx):
    return "tcgen05.wait" in ptx          # wait for the tensor core
""", "never committed"),
        Wrong("an MMA is there", """
def mma_is_waited(ptx):
    return ptx.count("tcgen05.mma") > 0
""", "never committed"),
        Wrong("mbarrier.wait opcode", """
def mma_is_waited(ptx):
    return "tcgen05.commit" in ptx and "mbarrier.wait" in ptx
""", "no instruction called mbarrier.wait"),
        Wrong("one commit per barrier: expects two", """
def mma_is_waited(ptx):
    return ptx.count("tcgen05.commit") >= 2      # one for the ring, one for the accumulator
""", "one tcgen05.commit is enough"),
        Wrong("several waits mean the MMA is waited for", """
def mma_is_waited(ptx):
    # step 1 without the MMA barrier has a single wait (the TMA's); a waited MMA adds a second one
    return ptx.count("mbarrier.try_wait") >= 2
""", "several mbarrier waits do not make a tracked MMA"),
        Wrong("a commit is enough", """
def mma_is_waited(ptx):
    return "tcgen05.commit" in ptx
""", "commit alone does not make the MMA waited for"),
        Right("str.count of both", """
def mma_is_waited(ptx):
    return ptx.count("tcgen05.commit") > 0 and ptx.count("mbarrier.try_wait") > 0
"""),
        Right("regex over lines", """
import re
def mma_is_waited(ptx):
    commit = re.search(r"tcgen05\\.commit\\S*mbarrier::arrive", ptx) is not None
    return commit and "mbarrier.try_wait" in ptx
"""),
    ],
    "09.2": [
        Wrong("no barriers per stage", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    return (232448 - fixed_bytes) // ((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes)
""", "two mbarriers"),
        Wrong("one barrier per stage", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    stage = (BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes + 8     # + the stage's mbarrier
    return (232448 - fixed_bytes) // stage
""", "you counted one"),
        Wrong("16-byte mbarriers", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    MBARRIER = 16                                  # bytes
    stage = (BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes + 2 * MBARRIER
    return (232448 - fixed_bytes) // stage
""", "8 bytes: a stage's two barriers take 16 bytes"),
        Wrong("barriers once with the fixed part", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    fixed = fixed_bytes + 2 * 8                    # ready + empty barriers
    return (232448 - fixed) // ((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes)
""", "paid per stage, not once"),
        Wrong("228 KiB", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    smem = 228 * 1024                 # shared memory per SM
    return (smem - fixed_bytes) // ((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes + 16)
""", "227 KiB (232,448 B)"),
        Wrong("227 kB decimal", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    return (227_000 - fixed_bytes) // ((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes + 16)
""", "227 x 1024"),
        Wrong("fixed part forgotten", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    stage = (BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes + 2 * 8
    return 232448 // stage
""", "forgot fixed_bytes"),
        Wrong("only A", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    return (232448 - fixed_bytes) // (BLOCK_M * BLOCK_K * elem_bytes + 16)
""", "*and* of B"),
        Wrong("rounded", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    return round((232448 - fixed_bytes) / ((BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes + 16))
""", "round down"),
        Wrong("at least one stage", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    stage = (BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes + 2 * 8
    return max(1, (232448 - fixed_bytes) // stage)       # a ring needs a slot
""", "do not clamp it to 1"),
        Right("math.floor", """
import math
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    per_stage = BLOCK_M * BLOCK_K * elem_bytes + BLOCK_N * BLOCK_K * elem_bytes + 8 + 8
    return math.floor((227 * 1024 - fixed_bytes) / per_stage)
"""),
        Right("add stages until full", """
def max_stages(BLOCK_M, BLOCK_N, BLOCK_K, elem_bytes, fixed_bytes):
    stage = (BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes + 16
    n = 0
    while fixed_bytes + (n + 1) * stage <= 232448:
        n += 1
    return n
"""),
    ],
    "09.3": [
        Wrong("empty waited like ready", """
def ring_phases(i, stages):
    phase = (i // stages) % 2
    return i % stages, phase, phase
""", "opposite"),
        Wrong("flips every K step", """
def ring_phases(i, stages):
    return i % stages, i % 2, 1 - i % 2
""", "once per trip"),
        Wrong("ready and empty swapped", """
def ring_phases(i, stages):
    phase = (i // stages) & 1
    return i % stages, phase ^ 1, phase
""", "swapped"),
        Wrong("the trip count, not its bit", """
def ring_phases(i, stages):
    trip = i // stages
    return i % stages, trip, trip ^ 1
""", "lowest bit"),
        Right("divmod", """
def ring_phases(i, stages):
    trip, slot = divmod(i, stages)
    return slot, trip & 1, (trip & 1) ^ 1
"""),
        Right("a list", """
def ring_phases(i, stages):
    return [i % stages, (i // stages) % 2, (i // stages + 1) % 2]
"""),
    ],
    "09.4": [
        Wrong("a progresses", """
scenario_a = "progress"
scenario_b = "race"
scenario_c = "progress"
""", "completed no phase"),
        Wrong("b deadlocks", """
scenario_a = "deadlock"
scenario_b = "deadlock"
scenario_c = "progress"
""", "no side blocks"),
        Wrong("c races", """
scenario_a = "deadlock"
scenario_b = "race"
scenario_c = "race"
""", "every K step is a trip"),
        Wrong("not an option", """
scenario_a = "hang"
scenario_b = "race"
scenario_c = "progress"
""", "not one of the options"),
        Right("capitalised and padded", """
scenario_a = "Deadlock"
scenario_b = " RACE"
scenario_c = "progress "
"""),
        Right("from the model", """
from bwkit import gluon_gemm as gg
scenario_a, scenario_b, scenario_c = (gg.simulate_ring(s, k, f).verdict
                                      for _, s, k, f in (gg.RING_SCENARIOS[n] for n in "abc"))
"""),
    ],
    "09.5": [
        Wrong("workers are 2 warps", """
def ws_budget(maxnreg, default_warps, worker_regs):
    warps = default_warps + 2                    # loader + MMA
    regs = (maxnreg * warps - 2 * worker_regs) // default_warps
    return 32 * warps, min(256, regs // 8 * 8)
""", "whole warpgroup"),
        Wrong("no reallocation", """
def ws_budget(maxnreg, default_warps, worker_regs):
    return 32 * (default_warps + 4), maxnreg
""", "more than maxnreg"),
        Wrong("no 256 cap", """
def ws_budget(maxnreg, default_warps, worker_regs):
    warps = default_warps + 4
    return 32 * warps, (maxnreg * warps - 4 * worker_regs) // default_warps // 8 * 8
""", "at most 256"),
        Wrong("no multiple of 8", """
def ws_budget(maxnreg, default_warps, worker_regs):
    warps = default_warps + 4
    return 32 * warps, min(256, (maxnreg * warps - 4 * worker_regs) // default_warps)
""", "multiples of 8"),
        Wrong("threads of the default partition only", """
def ws_budget(maxnreg, default_warps, worker_regs):
    regs = (maxnreg * (default_warps + 4) - 4 * worker_regs) // default_warps
    return 32 * default_warps, min(256, regs - regs % 8)
""", "count every warp"),
        Wrong("registers first", """
def ws_budget(maxnreg, default_warps, worker_regs):
    warps = default_warps + 4
    regs = (maxnreg * warps - 4 * worker_regs) // default_warps
    return min(256, regs // 8 * 8), 32 * warps
""", "other way round"),
        Wrong("nearest multiple of 8", """
def ws_budget(maxnreg, default_warps, worker_regs):
    warps = default_warps + 4
    share = (maxnreg * warps - 4 * worker_regs) / default_warps
    return 32 * warps, min(256, round(share / 8) * 8)
""", "*down* to a multiple of 8"),
        Right("what the workers give up", """
def ws_budget(maxnreg, default_warps, worker_regs):
    gift = 4 * (maxnreg - worker_regs) // default_warps     # per default thread
    regs = min(256, (maxnreg + gift) // 8 * 8)
    return (default_warps + 4) * 32, regs
"""),
        Right("search down from 256", """
import numpy as np
def ws_budget(maxnreg, default_warps, worker_regs):
    warps = default_warps + 4
    regs = 256
    while regs * default_warps + worker_regs * 4 > maxnreg * warps:
        regs -= 8
    return np.int64(32 * warps), np.int64(regs)
"""),
    ],
    "09.6": [
        Wrong("no rounding", """
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    cols = BLOCK_N * acc_buffers
    if nvfp4:
        cols += (BLOCK_K // 64) * (1 + (BLOCK_N + 127) // 128)
    return cols, cols
""", "power of two"),
        Wrong("scales forgotten", """
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    cols = BLOCK_N * acc_buffers
    return cols, max(32, 1 << (cols - 1).bit_length())
""", "left out the scale factors"),
        Wrong("one accumulator", """
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    cols = BLOCK_N
    if nvfp4:
        cols += (BLOCK_K // 64) * (1 + (BLOCK_N + 127) // 128)
    return cols, max(32, 1 << (cols - 1).bit_length())
""", "accumulator buffers"),
        Wrong("a column per scale byte", """
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    cols = BLOCK_N * acc_buffers
    if nvfp4:
        cols += (BLOCK_K // 16) * (1 + (BLOCK_N + 127) // 128)    # one scale per 16 values
    return cols, max(32, 1 << (cols - 1).bit_length())
""", "32 bits wide"),
        Wrong("B scales as one block", """
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    cols = BLOCK_N * acc_buffers
    if nvfp4:
        cols += 2 * (BLOCK_K // 64)          # A's and B's scales
    return cols, max(32, 1 << (cols - 1).bit_length())
""", "two 128-lane blocks"),
        Wrong("bytes", """
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    nbytes = 4 * BLOCK_N * acc_buffers       # fp32 accumulator
    if nvfp4:
        nbytes += 4 * (BLOCK_K // 64) * (1 + (BLOCK_N + 127) // 128)
    return nbytes, max(32, 1 << (nbytes - 1).bit_length())
""", "you counted bytes"),
        Wrong("(alloc, needed)", """
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    needed = BLOCK_N * acc_buffers
    if nvfp4:
        needed += BLOCK_K // 64 * (1 + (BLOCK_N + 127) // 128)
    alloc = max(32, 1 << (needed - 1).bit_length())
    return alloc, needed
""", "other way round"),
        Wrong("one scale per 32 values", """
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    cols = BLOCK_N * acc_buffers
    if nvfp4:
        scale_bytes = BLOCK_K // 32                 # one scale per 32 FP4 values
        cols += scale_bytes // 4 * (1 + (BLOCK_N + 127) // 128)
    return cols, max(32, 1 << (cols - 1).bit_length())
""", "one UE4M3 scale per 16 values"),
        Wrong("no 32-column minimum", """
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    cols = BLOCK_N * acc_buffers
    if nvfp4:
        cols += (BLOCK_K // 64) * (1 + (BLOCK_N + 127) // 128)
    return cols, 1 << (cols - 1).bit_length()           # next power of two
""", "never takes fewer than 32 columns"),
        Right("log2", """
import math
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    need = BLOCK_N * acc_buffers + (math.ceil(BLOCK_N / 128) + 1) * BLOCK_K // 64 * int(nvfp4)
    return need, 2 ** math.ceil(math.log2(max(need, 32)))
"""),
        Right("lab 01's tmem_budget", """
from bwkit import tensorcores as tc
def tmem_columns(BLOCK_N, BLOCK_K, acc_buffers, nvfp4):
    b = tc.tmem_budget(128, BLOCK_N, acc_buffers=acc_buffers, kind="mxf4nvf4" if nvfp4 else "f16",
                       block_k=BLOCK_K, sf_vec=16 if nvfp4 else None)
    return (b.needed, b.allocated)
"""),
    ],
    "09.7": [
        Wrong("any mbarrier means a ring", """
def name_the_step(ptx):
    if "wgmma" in ptx:
        return "wgmma"
    if "mxf4nvf4" in ptx:
        return "nvfp4"
    if "setmaxnreg" in ptx:
        return "ws"
    if "mbarrier" in ptx:
        return "pipelined"
    return "sync"
""", "step 1 waits on mbarriers too"),
        Wrong("kind not checked", """
import re
def name_the_step(ptx):
    if "wgmma" in ptx:
        return "wgmma"
    if "setmaxnreg" in ptx:
        return "ws"
    inits = len(re.findall(r"mbarrier\\.init", ptx))
    return "pipelined" if inits > 2 else "sync"
""", "kind::mxf4nvf4"),
        Wrong("warp_specialize in the PTX", """
def name_the_step(ptx):
    if "wgmma" in ptx:
        return "wgmma"
    if "mxf4nvf4" in ptx:
        return "nvfp4"
    if "warp_specialize" in ptx:
        return "ws"
    return "pipelined" if ptx.count("mbarrier.init") > 2 else "sync"
""", "setmaxnreg"),
        Wrong("every kernel is tcgen05", """
def name_the_step(ptx):
    if "mxf4nvf4" in ptx:
        return "nvfp4"
    if "setmaxnreg" in ptx:
        return "ws"
    return "pipelined" if ptx.count("mbarrier.init") > 2 else "sync"
""", "wgmma.mma_async"),
        Wrong("ws is the 512-column kernel", """
from bwkit import gluon_gemm as gg
def name_the_step(ptx):
    if "wgmma.mma_async" in ptx:
        return "wgmma"
    if "kind::mxf4nvf4" in ptx:
        return "nvfp4"
    if gg.tmem_alloc_columns(ptx) == 512:          # two 256-column accumulators
        return "ws"
    return "pipelined" if ptx.count("mbarrier.init") > 2 else "sync"
""", "the one with setmaxnreg"),
        Right("commit count", """
def name_the_step(ptx):
    if "wgmma.mma_async" in ptx:
        return "wgmma"
    if "kind::mxf4nvf4" in ptx:
        return "nvfp4"
    if "setmaxnreg" in ptx:
        return "ws"
    return "pipelined" if ptx.count("tcgen05.commit") >= 2 else "sync"
"""),
        Right("a table of features", """
from bwkit import inspect as bwi
def name_the_step(ptx):
    ops = bwi.histogram(ptx, depth=2)
    features = [("wgmma", "wgmma.mma_async"), ("nvfp4", None), ("ws", "setmaxnreg.inc")]
    for name, op in features:
        if (op and ops.get(op)) or (name == "nvfp4" and "mxf4nvf4" in ptx):
            return name
    return "pipelined" if ops.get("mbarrier.init", 0) > 2 else "sync"
"""),
    ],
}
