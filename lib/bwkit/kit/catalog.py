"""The labs of the kit and the path each takes on each kind of machine (read by `bwkit doctor`).

`LABS` is the one list of labs: `bwkit.kit.exercises` takes its lab modules from it (lab NN's exercises live in
`bwkit.kit.exercises.labNN`). The folders and file names of the notebooks are in `bwkit.kit.notebooks`. This
module imports nothing heavy (not even pathlib): the learner's check cell imports it.

Paths: 'native' (runs and is timed on the GPU), 'interpreter' (Triton kernels run in the Triton interpreter on
the CPU), 'compile-only' (GPU code is compiled and its PTX/SASS read, nothing runs), 'emulated' (number formats
and models computed bit-exactly in torch on the CPU). A lab usually combines several.

Machine kinds (`bwkit.kit.runtime.Runtime.kind`): 'cpu' (no usable GPU), 'sm_90a' (Hopper), 'sm_100a' (B200/GB200,
B300/GB300), 'sm_120' (RTX 50xx: sm_120a, sm_121a) and 'other': a GPU the kit's Triton kernels have no plan for
(Ampere, Ada, ...). There `bwkit.setup()` runs Triton in the interpreter, as on the CPU, so 'other' takes the CPU
path of every lab while torch can still use the GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Lab", "LABS", "lab_paths", "get_lab"]

MACHINES = ("cpu", "sm_90a", "sm_100a", "sm_120", "other")


@dataclass(frozen=True)
class Lab:
    """One lab notebook: number, file stem and the path it takes per machine kind; `unsaved`: the path's text on
    a machine kind whose path shows saved results (`bwkit.efficiency.load_results`) when there are none yet."""

    number: str
    stem: str
    title: str
    paths: dict[str, str]
    unsaved: dict[str, str] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        """The notebook's file name in labs/ and solutions/."""
        return f"{self.stem}.ipynb"


_CPU_ONLY = {m: "runs everywhere (pure Python / torch on the CPU)" for m in MACHINES}

_TIMED = "native: runs and is timed on the GPU"
_PEAK = " if bwkit.hw has its datasheet peak (bwkit.hw.spec_for_device), else model only"
LABS: list[Lab] = [
    Lab("00", "00_hardware_roofline", "Hardware and roofline", {
        "cpu": "native (specs, rooflines, the kit's doctor; a CPU matmul timed and labelled as CPU)",
        "sm_90a": "native (plus a timed bf16 GEMM)",
        "sm_100a": "native (plus a timed bf16 GEMM)",
        "sm_120": "native (plus a timed bf16 GEMM; tcgen05 compile-only)",
        "other": "native (specs, rooflines, the doctor); its GEMM is timed on the CPU and labelled as CPU: Triton "
                 "runs in the interpreter here",
    }),
    Lab("01", "01_tensor_cores", "Tensor Cores through the compiler", {
        "cpu": "compile-only (sm_80/sm_90a/sm_100a/sm_120 PTX+SASS) + emulated tcgen05 model",
        "sm_90a": "compile-only + emulated; the Triton GEMM runs natively (wgmma)",
        "sm_100a": "native: the Triton GEMM runs and is timed (tcgen05)",
        "sm_120": "compile-only for tcgen05 (sm_120 has none); mma.sync GEMM runs natively",
        "other": "compile-only + emulated",
    }),
    Lab("02", "02_number_formats", "FP8/FP6/FP4, MX and NVFP4", {
        "cpu": "emulated (bit-exact formats) + interpreter (tl.dot_scaled) + compile-only PTX",
        "sm_90a": "emulated + native Triton (no FP4 Tensor Cores on Hopper)",
        "sm_100a": "emulated + native tl.dot_scaled",
        "sm_120": "emulated + native where Triton supports sm_120 block-scaled MMA",
        "other": "emulated + interpreter",
    }),
    Lab("03", "03_triton_gemm", "Triton GEMM ladder", {
        "cpu": "interpreter (small sizes) + compile-only for sm_90a/sm_100a",
        "sm_90a": _TIMED + " (wgmma) vs cuBLAS",
        "sm_100a": _TIMED + " (tcgen05) vs cuBLAS",
        "sm_120": _TIMED + " (mma.sync)",
        "other": "interpreter + compile-only",
    }),
    Lab("04", "04_block_scaled_gemm", "Block-scaled GEMM (MXFP8/MXFP4/NVFP4)", {
        "cpu": "interpreter (tl.dot_scaled for MXFP8/MXFP4; NVFP4 decoded in registers) + emulated reference "
               "+ compile-only",
        "sm_90a": "interpreter-free native run where supported; FP4 explained (no FP4 Tensor Cores)",
        "sm_100a": _TIMED + " vs cuBLASLt",
        "sm_120": "compile-only + explanation",
        "other": "interpreter + compile-only",
    }),
    Lab("05", "05_cute_dsl", "CuTe DSL: layouts to a tcgen05 GEMM", {
        "cpu": "host JIT (layout algebra) + compile-only (sm_100a PTX/SASS)",
        "sm_90a": "host JIT + compile-only (the kernel needs sm_100a)",
        "sm_100a": _TIMED + " vs cuBLAS",
        "sm_120": "host JIT + compile-only",
        "other": "host JIT + compile-only",
    }),
    Lab("06", "06_near_peak", "Near-peak GEMM: method and model", {
        "cpu": "efficiency model + saved results (not measured here)",
        "sm_90a": _TIMED + " (cuBLAS, Triton)" + _PEAK,
        "sm_100a": _TIMED + " (cuBLAS, Triton, CuTe)" + _PEAK,
        "sm_120": _TIMED + " (cuBLAS, Triton)" + _PEAK,
        "other": "model only",
    }, unsaved={"cpu": "efficiency model (not measured here); no saved results yet "
                       "(benchmarks/gpu_check_near_peak.py on a GPU saves them into results/)"}),
    Lab("07", "07_deepseek_moe", "DeepSeek-R1 MoE layer", {
        "cpu": "emulated (routing, experts, FP8/NVFP4) + interpreter (fused MoE) + gloo expert parallelism",
        "sm_90a": "native fused MoE timed vs per-expert loop",
        "sm_100a": "native fused MoE timed vs per-expert loop",
        "sm_120": "native fused MoE",
        "other": "emulated + interpreter",
    }),
    Lab("08", "08_dgx_b200_inference", "DGX B200 inference model", _CPU_ONLY),
    Lab("09", "09_gluon_tcgen05", "Blackwell Tensor Cores by hand with Gluon", {
        "cpu": "compile-only (Gluon kernels for sm_100a, wgmma for sm_90a; PTX/SASS read) + CPU model of the ring",
        "sm_90a": "compile-only for tcgen05; the wgmma Gluon kernel runs natively",
        "sm_100a": _TIMED + " (Gluon ladder + NVFP4) vs cuBLAS",
        "sm_120": "compile-only (sm_120 has no tcgen05/TMEM)",
        "other": "compile-only + CPU model",
    }),
    Lab("10", "10_cute_near_peak", "CuTe DSL to near-peak: the ladder", {
        "cpu": "compile-only (every rung's sm_100a PTX/SASS) + pipeline and efficiency models",
        "sm_90a": "compile-only + models (tcgen05, TMEM, CTA pairs and CLC are sm_100a only)",
        "sm_100a": _TIMED + " (every rung vs torch and cuBLAS)",
        "sm_120": "compile-only + models",
        "other": "compile-only + models",
    }),
]


def get_lab(number: str) -> Lab:
    """The lab with this number ('00'..)."""
    for lab in LABS:
        if lab.number == number:
            return lab
    raise ValueError(f"unknown lab {number!r}; known: {', '.join(lab.number for lab in LABS)}")


def lab_paths(machine: str, *, saved_results: bool = True) -> list[tuple[Lab, str]]:
    """(lab, path) for every lab on a machine kind ('cpu', 'sm_90a', 'sm_100a', 'sm_120', 'other');
    `saved_results` False: there are no saved results (`bwkit.efficiency.load_results() == []`), and a path that
    would show them says so (`Lab.unsaved`)."""
    if machine not in MACHINES:
        raise ValueError(f"unknown machine kind {machine!r}; known: {', '.join(MACHINES)}")
    out = []
    for lab in LABS:
        path = lab.paths.get(machine, lab.paths.get("other", "?"))
        if not saved_results:
            path = lab.unsaved.get(machine, path)
        out.append((lab, path))
    return out
