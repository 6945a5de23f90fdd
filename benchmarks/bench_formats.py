"""Quantize + dequantize 16M float32 values per block-scaled scheme: bwkit.formats vs torchao, same data, same run.

    .venv/bin/python benchmarks/bench_formats.py            # 4096 x 4096 values, best of 5 runs each
    .venv/bin/python benchmarks/bench_formats.py --rows 1024 --reps 3 --schemes mxfp4,nvfp4

The reference is torchao's `torchao.prototype.mx_formats` (benchmark-only extra: `pip install torchao`, or
`PIP_CONSTRAINT=/dev/null .venv/bin/pip install --no-deps torchao` next to the kit's pinned torch). Where torchao
cannot be imported, or has no such scheme (MXINT8), the reference is a straightforward per-block loop over rows
(the textbook algorithm, vectorized only within a row of blocks), and the table says so.

Each side does the whole round trip: quantize (FP4: pack two codes per byte, as torchao stores them) and
dequantize back to float32. Times are host-clock CPU timings (best of `--reps` runs, the two sides alternating so
that load from other processes hits both alike; with `--device cuda`, synchronized GPU runs). Also printed: the
fraction of dequantized values that agree bit for bit with the reference (same rounding rules: OCP "floor" scales
for MX; NVIDIA's two-level recipe for NVFP4). For NVFP4 the codes, block scales and tensor scale are identical to
torchao's, but torchao dequantizes as q * (sf * ts), rounding twice, and bwkit as (q * sf) * ts, rounding once
(q * sf is exact), so some dequantized values differ in the last bit.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import torch

from bwkit import formats as F

TORCHAO_ELEM = {"mxfp8_e4m3": "float8_e4m3fn", "mxfp8_e5m2": "float8_e5m2", "mxfp6_e2m3": "fp6_e2m3",
                "mxfp6_e3m2": "fp6_e3m2", "mxfp4": "float4_e2m1fn_x2"}


def bwkit_roundtrip(x: torch.Tensor, scheme: str) -> torch.Tensor:
    q = F.quantize(x, scheme)
    if F.SCHEMES[scheme].elem == "e2m1":
        q.codes = F.unpack_fp4(F.pack_fp4(q.codes))      # storage format: packed nibbles
    return q.dequantize()


def load_torchao():
    """(module mx_tensor, module nvfp4_tensor) or None with the reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torchao
            from torchao.prototype.mx_formats import mx_tensor, nvfp4_tensor
        return (mx_tensor, nvfp4_tensor), f"torchao {torchao.__version__}"
    except Exception as e:  # noqa: BLE001 - any import failure means: use the loop reference
        return None, f"torchao not importable ({type(e).__name__}: {str(e)[:80]})"


def torchao_roundtrip(mods, x: torch.Tensor, scheme: str):
    mx_tensor, nvfp4_tensor = mods
    if scheme == "nvfp4":
        ts = nvfp4_tensor.per_tensor_amax_to_scale(x.abs().amax())
        t = nvfp4_tensor.NVFP4Tensor.to_nvfp4(x, per_tensor_scale=ts)
        return lambda: nvfp4_tensor.NVFP4Tensor.to_nvfp4(x, per_tensor_scale=ts).dequantize(torch.float32), t
    elem = TORCHAO_ELEM[scheme]
    elem = getattr(torch, elem) if elem.startswith("float") else elem

    def run():
        scale, data = mx_tensor.to_mx(x, elem, 32)
        return mx_tensor.to_dtype(data, scale, elem, 32, torch.float32)
    return run, None


def loop_reference(x: torch.Tensor, scheme: str) -> torch.Tensor:
    """Per-block textbook loop (row by row): amax, E8M0 floor scale, clamp to ±max normal, round each element,
    decode. The clamp is the conversion rule of the OCP MX v1.0 spec (a scaled value beyond the element format's
    max normal saturates to it): with the floor scale a block's amax can reach 2^emax * 1.99.., past E5M2's max
    normal 57344, where a plain IEEE rounding gives ±Inf."""
    spec = F.SCHEMES[scheme]
    top = None if spec.elem == "int8" else F.FORMATS[spec.elem].max
    out = torch.empty_like(x)
    for r in range(x.shape[0]):
        blocks = x[r].reshape(-1, spec.block_size)
        amax = blocks.abs().amax(1)
        e = torch.floor(torch.log2(torch.where(amax > 0, amax, 1.0))) - spec.emax_elem
        e = torch.where(amax > 0, e, -127.0).clamp(-127, 127)
        scale = torch.exp2(e).unsqueeze(1)
        if spec.elem == "int8":
            q = torch.round(blocks / scale * 64).clamp(-127, 127) / 64
        else:
            q = F.round_to_format((blocks / scale).clamp(-top, top), spec.elem)
        out[r] = (q * scale).reshape(-1)
    return out


def timed(fn, device: str) -> float:
    """Seconds for one call of fn (host clock; synchronized on a GPU)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=4096, help="rows of the [rows, 4096] input (default 4096: 16M)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--schemes", default=",".join(F.SCHEMES))
    args = p.parse_args(argv)
    schemes = args.schemes.split(",")
    for s in schemes:
        if s not in F.SCHEMES:
            p.error(f"unknown scheme {s!r}; valid: {', '.join(F.SCHEMES)}")
    torch.manual_seed(0)
    x = torch.randn(args.rows, 4096, device=args.device)
    n = x.numel()
    mods, ref_name = load_torchao()
    clock = "CPU host clock" if args.device == "cpu" else args.device
    print(f"{n / 2**20:.0f}M float32 values, quantize+dequantize, best of {args.reps} alternating runs ({clock}, "
          f"{torch.get_num_threads()} threads); reference: {ref_name}")
    print(f"{'scheme':<12}{'bwkit Melem/s':>15}{'reference':>32}{'ref Melem/s':>13}{'ratio':>8}{'bit-equal':>11}")
    for s in schemes:
        ours = bwkit_roundtrip(x, s)
        if mods is not None and s in (*TORCHAO_ELEM, "nvfp4"):
            run, _ = torchao_roundtrip(mods, x, s)
            ref_label = "torchao"
        else:
            def run(s=s):
                return loop_reference(x, s)
            ref_label = "per-block loop" + (" (no torchao)" if mods is None else " (torchao: n/a)")
            if s == "nvfp4":
                t_ours = min(timed(lambda s=s: bwkit_roundtrip(x, s), args.device) for _ in range(args.reps))
                print(f"{s:<12}{n / t_ours / 1e6:>15.1f}{'(no reference)':>32}")
                continue
        ref = run()
        same = ((ours == ref) | (torch.isnan(ours) & torch.isnan(ref))).float().mean().item()
        # alternate the two sides rep by rep, so that load from other processes hits both alike; best of reps
        t_ours, t_ref = float("inf"), float("inf")
        for _ in range(args.reps):
            t_ours = min(t_ours, timed(lambda s=s: bwkit_roundtrip(x, s), args.device))
            t_ref = min(t_ref, timed(run, args.device))
        r_ours, r_ref = n / t_ours / 1e6, n / t_ref / 1e6
        print(f"{s:<12}{r_ours:>15.1f}{ref_label:>32}{r_ref:>13.1f}{r_ours / r_ref:>7.2f}x{same:>10.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
