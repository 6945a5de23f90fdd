"""Lab 00 (hardware and roofline): wrong answers as learners write them, and correct ones in other forms."""

from catalogue import Right, Wrong

CATALOGUE = {
    "00.1": [
        Wrong("bandwidth over peak", """
def ridge_point(peak_tflops, bandwidth_tbps):
    return bandwidth_tbps / peak_tflops
""", "inverse of the ridge point"),
        Wrong("TB/s taken as GB/s", """
def ridge_point(peak_tflops, bandwidth_tbps):
    return peak_tflops * 1e12 / (bandwidth_tbps * 1e9)
""", "off by 1000"),
        Wrong("sparse peak", """
def ridge_point(peak_tflops, bandwidth_tbps):
    sparse = 2 * peak_tflops          # the datasheet's headline figure
    return sparse / bandwidth_tbps
""", "sparse peak"),
        Wrong("product", """
def ridge_point(peak_tflops, bandwidth_tbps):
    return peak_tflops * bandwidth_tbps
""", "multiplied peak by bandwidth"),
        Right("numpy float32", """
import numpy as np
def ridge_point(peak_tflops, bandwidth_tbps):
    return np.float32(peak_tflops) / np.float32(bandwidth_tbps)
"""),
        Right("lambda in base units", """
ridge_point = lambda peak_tflops, bandwidth_tbps: (peak_tflops * 10**12) / (bandwidth_tbps * 10**12)
"""),
        Wrong('precedence: the second 1e12 multiplies', """
def ridge_point(peak_tflops, bandwidth_tbps):
    return peak_tflops * 1e12 / bandwidth_tbps * 1e12
""", 'operator precedence'),
        Wrong('TB/s taken as TiB/s', """
def ridge_point(peak_tflops, bandwidth_tbps):
    bytes_per_s = bandwidth_tbps * 2**40          # 1 TB = 2^40 bytes
    return peak_tflops * 1e12 / bytes_per_s
""", 'not 2^40 (TiB/s)'),
        Wrong('floor division', """
def ridge_point(peak_tflops, bandwidth_tbps):
    return peak_tflops // bandwidth_tbps           # FLOP per byte, a whole number
""", 'keep the fraction'),
        Wrong('bandwidth taken as bits', """
def ridge_point(peak_tflops, bandwidth_tbps):
    bytes_per_s = bandwidth_tbps * 1e12 / 8       # TB/s -> bytes/s
    return peak_tflops * 1e12 / bytes_per_s
""", 'bits vs bytes'),
    ],
    "00.2": [
        Wrong("one FLOP per multiply-add", """
def gemm_intensity(M, N, K, in_bytes, out_bytes):
    return M * N * K / ((M * K + K * N) * in_bytes + M * N * out_bytes)
""", "you counted 1"),
        Wrong("C read and written", """
def gemm_intensity(M, N, K, in_bytes, out_bytes):
    flops = 2 * M * N * K
    return flops / ((M * K + K * N) * in_bytes + 2 * M * N * out_bytes)
""", "C is written once"),
        Wrong("no C bytes", """
def gemm_intensity(M, N, K, in_bytes, out_bytes):
    return 2 * M * N * K / ((M * K + K * N) * in_bytes)
""", "forgot the bytes of C"),
        Wrong("elements, not bytes", """
def gemm_intensity(M, N, K, in_bytes, out_bytes):
    return 2 * M * N * K / (M * K + K * N + M * N)
""", "element sizes are missing"),
        Right("integer arithmetic", """
from fractions import Fraction
def gemm_intensity(M, N, K, in_bytes, out_bytes):
    return float(Fraction(2 * M * N * K) / Fraction((M * K + K * N) * in_bytes + M * N * out_bytes))
"""),
        Right("torch scalar", """
import torch
def gemm_intensity(M, N, K, in_bytes, out_bytes):
    f = torch.tensor(2.0 * M * N * K, dtype=torch.float64)
    return f / ((M * K + K * N) * in_bytes + M * N * out_bytes)
"""),
        Wrong('in_bytes and out_bytes swapped', """
def gemm_intensity(M, N, K, in_bytes, out_bytes):
    return 2 * M * N * K / ((M * K + K * N) * out_bytes + M * N * in_bytes)
""", 'swapped'),
        Wrong('C in the input size', """
def gemm_intensity(M, N, K, in_bytes, out_bytes):
    elements = M * K + K * N + M * N
    return 2 * M * N * K / (elements * in_bytes)
""", 'C is written in out_bytes'),
        Wrong('the 2M shortcut', """
def gemm_intensity(M, N, K, in_bytes, out_bytes):
    return 2 * M / in_bytes          # the weights dominate the bytes
""", 'shortcut 2M / in_bytes'),
        Wrong('floor division', """
def gemm_intensity(M, N, K, in_bytes, out_bytes):
    return 2 * M * N * K // ((M * K + K * N) * in_bytes + M * N * out_bytes)
""", 'keep the fraction'),
    ],
    "00.3": [
        Wrong("max instead of min", """
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    return max(peak_tflops, bandwidth_tbps * intensity)
""", "max of the two limits"),
        Wrong("no cap", """
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    return bandwidth_tbps * intensity
""", "without capping"),
        Wrong("peak only", """
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    return peak_tflops
""", "without the bandwidth limit"),
        Wrong("bandwidth over intensity", """
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    return min(peak_tflops, bandwidth_tbps / intensity)
""", "divided bandwidth by intensity"),
        Wrong("bandwidth taken as GB/s", """
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    bandwidth_gbps = bandwidth_tbps * 1000          # GB/s
    return min(peak_tflops, bandwidth_gbps * intensity)
""", "took it as GB/s"),
        Wrong("answer in FLOP/s", """
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    peak = peak_tflops * 1e12                       # base units, as in 00.1
    bw = bandwidth_tbps * 1e12
    return min(peak, bw * intensity)
""", "in FLOP/s"),
        Right("if/else", """
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    memory_limit = bandwidth_tbps * intensity
    if memory_limit < peak_tflops:
        return memory_limit
    return peak_tflops
"""),
        Right("numpy minimum", """
import numpy as np
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    return np.minimum(peak_tflops, bandwidth_tbps * intensity)
"""),
        Wrong('answer in PFLOP/s', """
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    return min(peak_tflops, bandwidth_tbps * intensity) / 1000     # PFLOP/s reads better
""", 'in PFLOP/s'),
        Wrong('bandwidth taken as bits', """
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    return min(peak_tflops, bandwidth_tbps / 8 * intensity)        # TB/s -> bytes
""", 'no factor of 8'),
        Wrong('TB/s taken as TiB/s', """
def attainable_tflops(peak_tflops, bandwidth_tbps, intensity):
    bw = bandwidth_tbps * 2**40 / 1e12
    return min(peak_tflops, bw * intensity)
""", 'not 2^40 (TiB/s)'),
    ],
    "00.4": [
        Wrong("compute", 'answer = "compute"', "weights dominate the bytes"),
        Wrong("Compute, capitalised", 'answer = "Compute"', "weights dominate the bytes"),
        Wrong("compute-bound, spelled out", 'answer = "compute-bound"', "not one of"),
        Right("capitalised", 'answer = "Memory"'),
        Right("padded", 'answer = " memory "'),
    ],
    "00.5": [
        Wrong("compute ratio", """
b200_ms = 10 * 989 / 2250      # BF16 TFLOP/s, H200 vs B200
""", "compute ratio"),
        Wrong("ratio upside down", """
b200_ms = 10 * 8.0 / 4.8
""", "upside down"),
        Wrong("the speed-up instead of the time", """
b200_ms = 8.0 / 4.8
""", "speed-up"),
        Wrong("seconds", """
b200_ms = 10e-3 * 4.8 / 8.0
""", "in seconds"),
        Wrong("a bfloat16 scalar, 3 % off", """
import torch
b200_ms = torch.tensor(6.2, dtype=torch.bfloat16)   # read off the plot
""", "as a Python float"),
        Wrong("compute ratio, in bfloat16", """
import torch
b200_ms = torch.tensor(10.0, dtype=torch.bfloat16) * 989 / 2250
""", "compute ratio"),
        Right("numpy float", """
import numpy as np
b200_ms = np.float64(10) * 4.8 / 8
"""),
        Right("from the bandwidths", """
from bwkit import hw
b200_ms = 10.0 / (hw.get_spec("B200").hbm_tbps / hw.get_spec("H200").hbm_tbps)
"""),
        Right("a bfloat16 tensor (6.0 is exact in it)", """
import torch
b200_ms = torch.tensor(10.0, dtype=torch.bfloat16) * 4.8 / 8.0
"""),
        Wrong("H100's bandwidth (the wrong row)", """
b200_ms = 10 * 3.35 / 8.0
""", "H100's bandwidth"),
        Wrong('HBM capacity ratio', """
b200_ms = 10 * 141 / 180       # HBM GB, H200 vs B200
""", 'HBM capacities'),
    ],
}
