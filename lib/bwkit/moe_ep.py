"""Expert parallelism (EP) on torch.distributed: all-to-all dispatch and combine of a DeepSeek MoE layer.

    from bwkit import moe, moe_ep
    w = moe.init_moe_weights(moe.TINY)
    y, stats = moe_ep.run_ep(x, w, moe.TINY, world_size=4)        # 4 local processes, gloo on a CPU
    torch.testing.assert_close(y, moe.moe_forward(x, w, moe.TINY))  # same output as one process
    print(stats[0].dispatch_bytes)                                 # bytes rank 0 sent to other ranks

Each rank holds its own tokens, the (replicated) gate and shared expert, and num_experts / world_size routed
experts (rank r: experts [r * E/W, (r+1) * E/W)). One step (`ep_moe_forward`, run on every rank):
1. gate its tokens; every (token, slot) pair goes to the rank that owns its expert;
2. exchange counts (all_to_all_single on W integers), then the pairs' activation rows and local expert ids
   (dispatch);
3. run the received rows through the local experts (the grouped torch path);
4. send the outputs back along the reverse splits (combine); the source rank applies the routing weights, sums
   the top_k rows of each token and adds the shared expert.
The same code runs with NCCL on GPUs (`backend="nccl"`, one GPU per rank). Pairs are sent one row each (no
de-duplication of a token that goes to two experts on one rank, which DeepEP-style kernels do). A rank may hold
no tokens, or receive no pairs: it still takes part in every collective with empty splits.
`run_ep` spawns the ranks with torch.multiprocessing on a free localhost TCP port and always reaps them;
`run_ep_cases` runs several steps (inputs and shard sizes) on one set of ranks. Taught in lab 07, step 7.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist

from bwkit.kit.args import check_number
from bwkit.moe import (
    DeepSeekMoEConfig,
    MoEWeights,
    _check_cfg,
    check_expert_ids,
    combine,
    experts_grouped,
    gate,
    swiglu,
)

__all__ = ["expert_owner_rank", "expert_range", "ep_routing_table", "EPStats", "ep_moe_forward", "run_ep",
           "run_ep_cases", "free_port"]


def _check_world(num_experts: int, world_size: int) -> None:
    check_number("world_size", world_size)
    check_number("num_experts", num_experts)
    if num_experts % world_size:
        raise ValueError(f"world_size ({world_size}) must divide num_experts ({num_experts}) so that every rank "
                         "holds the same number of experts")


def expert_range(rank: int, world_size: int, num_experts: int) -> tuple[int, int]:
    """(start, end) of the contiguous block of routed experts rank `rank` holds."""
    _check_world(num_experts, world_size)
    check_number("rank", rank, zero_ok=True)
    if not rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    n = num_experts // world_size
    return rank * n, (rank + 1) * n


def expert_owner_rank(topk_ids: torch.Tensor, world_size: int, num_experts: int) -> torch.Tensor:
    """The rank that owns each routed expert id (contiguous placement: expert // (num_experts / world_size))."""
    _check_world(num_experts, world_size)
    if not isinstance(topk_ids, torch.Tensor) or topk_ids.is_floating_point() or topk_ids.is_complex() \
            or topk_ids.dtype == torch.bool:
        what = topk_ids.dtype if isinstance(topk_ids, torch.Tensor) else type(topk_ids).__name__
        raise TypeError(f"expert_owner_rank: topk_ids must be an integer torch.Tensor of expert ids, got {what}")
    if topk_ids.numel() and (int(topk_ids.min()) < 0 or int(topk_ids.max()) >= num_experts):
        raise ValueError(f"expert_owner_rank: expert ids must lie in [0, {num_experts}), got ids from "
                         f"{int(topk_ids.min())} to {int(topk_ids.max())}")
    return torch.div(topk_ids, num_experts // world_size, rounding_mode="floor")


def ep_routing_table(topk_ids_per_rank, world_size: int, num_experts: int) -> torch.Tensor:
    """[world_size, world_size] int64: entry [src, dst] = (token, slot) pairs rank src sends to rank dst.

    `topk_ids_per_rank`: one [T_r, top_k] tensor per source rank. Row sums = pairs each rank dispatches
    (T_r * top_k); column sums = rows each rank's experts process. Taught in lab 07, step 7.
    """
    if len(topk_ids_per_rank) != world_size:
        raise ValueError(f"need one topk_ids tensor per rank: got {len(topk_ids_per_rank)}, world_size "
                         f"{world_size}")
    for ids in topk_ids_per_rank:
        check_expert_ids(ids, num_experts, "ep_routing_table")
    rows = [torch.bincount(expert_owner_rank(ids.reshape(-1).long(), world_size, num_experts),
                           minlength=world_size) for ids in topk_ids_per_rank]
    return torch.stack(rows).to(torch.int64)


@dataclass(frozen=True)
class EPStats:
    """What one rank moved in one step. Rows are (token, slot) pairs; bytes count only rows to *other* ranks."""

    rank: int
    world_size: int
    send_rows: tuple[int, ...]   # pairs sent to each rank (own rank included)
    recv_rows: tuple[int, ...]   # pairs received from each rank
    dispatch_bytes: int          # activations + expert ids sent to other ranks
    combine_bytes: int           # expert outputs sent back to other ranks

    @property
    def local_fraction(self) -> float:
        """Share of this rank's pairs that stay on the rank (no network)."""
        total = sum(self.send_rows)
        return self.send_rows[self.rank] / total if total else 1.0


def ep_moe_forward(x: torch.Tensor, w: MoEWeights, cfg: DeepSeekMoEConfig, group=None):
    """One expert-parallel MoE step on this rank (inside an initialised process group); return (y, EPStats).

    x [T_r, hidden]: this rank's tokens (T_r may be 0); `w` the full layer weights (only this rank's experts are
    read). Collective: every rank of `group` must call it. Taught in lab 07, step 7.
    """
    if not dist.is_initialized():
        raise RuntimeError("ep_moe_forward needs torch.distributed initialised (use run_ep to start ranks)")
    if x.dim() != 2 or x.shape[1] != cfg.hidden:
        raise ValueError(f"ep_moe_forward: x must be [tokens, {cfg.hidden}], got {list(x.shape)}")
    rank, W = dist.get_rank(group), dist.get_world_size(group)
    start, end = expert_range(rank, W, cfg.num_experts)
    per_rank = cfg.num_experts // W
    T, H = x.shape
    weights, ids = gate(x, w.gate_weight, w.gate_bias, cfg)
    flat = ids.reshape(-1)
    dst = torch.div(flat, per_rank, rounding_mode="floor")
    order = torch.argsort(dst, stable=True)                    # pairs grouped by destination rank
    send_counts = torch.bincount(dst, minlength=W).to(torch.int64)
    recv_counts = torch.empty_like(send_counts)
    dist.all_to_all_single(recv_counts, send_counts, group=group)
    send_split, recv_split = send_counts.tolist(), recv_counts.tolist()
    # dispatch: activation rows and the expert id local to the destination rank
    send_x = x[order // cfg.top_k].contiguous()
    send_e = (flat[order] - dst[order] * per_rank).contiguous()
    recv_x = x.new_empty(sum(recv_split), H)
    recv_e = send_e.new_empty(sum(recv_split))
    dist.all_to_all_single(recv_x, send_x, recv_split, send_split, group=group)
    dist.all_to_all_single(recv_e, send_e, recv_split, send_split, group=group)
    # local experts: every received row is a "token" with one slot and weight 1
    w1, w3, w2 = w.experts_slice(start, end)
    out = experts_grouped(recv_x, torch.ones(recv_x.shape[0], 1, dtype=x.dtype, device=x.device),
                          recv_e[:, None], w1, w3, w2)
    # combine: reverse splits, back to pair order, weights, sum over slots, shared expert
    back = x.new_empty(T * cfg.top_k, H)
    dist.all_to_all_single(back, out.contiguous(), send_split, recv_split, group=group)
    pair_out = torch.empty_like(back)
    pair_out[order] = back
    y = combine(pair_out, weights, T) + swiglu(x, w.shared_w1, w.shared_w3, w.shared_w2)
    remote = sum(n for r, n in enumerate(send_split) if r != rank)
    remote_back = sum(n for r, n in enumerate(recv_split) if r != rank)
    stats = EPStats(rank, W, tuple(send_split), tuple(recv_split),
                    dispatch_bytes=remote * (H * x.element_size() + send_e.element_size()),
                    combine_bytes=remote_back * H * x.element_size())
    return y, stats


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ep_worker(rank: int, world_size: int, backend: str, init_method: str, workdir: str) -> None:
    """Body of one spawned rank: init, one EP step per case on its shard, save each (y, stats), tear down."""
    torch.set_num_threads(1)
    if backend == "gloo" and "GLOO_SOCKET_IFNAME" not in os.environ and os.path.exists("/sys/class/net/lo"):
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    inputs = torch.load(os.path.join(workdir, "inputs.pt"), weights_only=False)
    device = torch.device(f"cuda:{rank}") if backend == "nccl" else torch.device("cpu")
    if backend == "nccl":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size)
    try:
        _ep_steps(rank, device, inputs, workdir)
    except BaseException:
        with open(os.path.join(workdir, f"rank{rank}.err"), "w") as f:   # for run_ep's error message
            f.write(traceback.format_exc())
        raise
    finally:
        dist.destroy_process_group()


def _ep_steps(rank: int, device: torch.device, inputs: dict, workdir: str) -> None:
    w = MoEWeights(*(t.to(device) for t in (getattr(inputs["w"], f) for f in (
        "gate_weight", "gate_bias", "w1", "w3", "w2", "shared_w1", "shared_w3", "shared_w2"))))
    out = []
    for shards in inputs["cases"]:                 # one process group for every case
        y, stats = ep_moe_forward(shards[rank].to(device), w, inputs["cfg"])
        out.append({"y": y.cpu(), "stats": stats})
    torch.save(out, os.path.join(workdir, f"rank{rank}.pt"))
    dist.barrier()


def _shard(x: torch.Tensor, world_size: int, shards) -> list[torch.Tensor]:
    """x split into world_size contiguous shards: near-equal (torch.tensor_split) or `shards` tokens each."""
    if shards is None:
        return [s.contiguous().cpu() for s in torch.tensor_split(x, world_size)]
    sizes = list(shards)
    if len(sizes) != world_size or any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in sizes):
        raise ValueError(f"run_ep: shards must be {world_size} non-negative ints (tokens per rank), got {shards!r}")
    if sum(sizes) != x.shape[0]:
        raise ValueError(f"run_ep: shards {sizes} hold {sum(sizes)} tokens, x has {x.shape[0]}")
    return [s.contiguous().cpu() for s in torch.split(x, sizes)]


def _rank_errors(workdir: str, world_size: int) -> str:
    """The tracebacks the ranks wrote, the root cause first (errors that are not lost connections)."""
    errs = []
    for r in range(world_size):
        path = os.path.join(workdir, f"rank{r}.err")
        if os.path.exists(path):
            with open(path) as f:
                errs.append((r, f.read().strip()))
    errs.sort(key=lambda e: ("Connection reset" in e[1] or "Connection closed" in e[1], e[0]))
    return "\n".join(f"--- rank {r}:\n{txt}" for r, txt in errs) or "(no rank wrote a traceback)"


def run_ep(x: torch.Tensor, w: MoEWeights, cfg: DeepSeekMoEConfig, *, world_size: int = 4,
           shards: Sequence[int] | None = None, backend: str = "gloo", timeout_s: float = 120.0,
           start_method: str = "forkserver"):
    """Run one EP step over `world_size` local processes; return (y [T, hidden] in token order, [EPStats]).

    Tokens are split into `world_size` contiguous shards: near-equal (torch.tensor_split) by default, or
    `shards[r]` tokens for rank r (any may be 0: a rank with no tokens still takes part in the all-to-alls, and
    so does a rank whose experts receive no pairs). `backend`: "gloo" (CPU) or "nccl" (needs world_size GPUs).
    Processes are started by torch.multiprocessing with `start_method` ("forkserver", the default, forks every
    rank from one server that imported torch once, so 4 ranks start in about a second after the first call;
    "spawn" starts a fresh interpreter per rank), rendezvous on a free localhost port, and are always terminated:
    a rank that fails or a run longer than `timeout_s` raises RuntimeError. As with any spawn/forkserver start, a
    *script* calling this needs the `if __name__ == "__main__":` guard. Taught in lab 07, step 7.
    """
    return run_ep_cases([(x, shards)], w, cfg, world_size=world_size, backend=backend, timeout_s=timeout_s,
                        start_method=start_method)[0]


def run_ep_cases(cases: Sequence[tuple[torch.Tensor, Sequence[int] | None]], w: MoEWeights, cfg: DeepSeekMoEConfig,
                 *, world_size: int = 4, backend: str = "gloo", timeout_s: float = 120.0,
                 start_method: str = "forkserver") -> list[tuple[torch.Tensor, list[EPStats]]]:
    """Several EP steps of one layer `w` over one set of `world_size` processes (the ranks start once).

    `cases`: (x, shards) pairs as `run_ep` takes them (shards None: near-equal). Returns one (y, [EPStats]) per
    case, in order. Starting the ranks costs far more than a small step, so tests and sweeps batch their steps
    here. Same errors as `run_ep`. Taught in lab 07, step 7.
    """
    import torch.multiprocessing as mp

    if start_method not in ("forkserver", "spawn"):
        raise ValueError(f"start_method must be 'forkserver' or 'spawn', got {start_method!r}")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    _check_cfg(cfg, "run_ep")
    if not isinstance(w, MoEWeights):
        raise TypeError(f"run_ep: w must be a MoEWeights (from moe.init_moe_weights), got {type(w).__name__}")
    _check_world(cfg.num_experts, world_size)
    if backend == "nccl" and torch.cuda.device_count() < world_size:
        raise ValueError(f"backend 'nccl' needs one GPU per rank: world_size {world_size}, "
                         f"{torch.cuda.device_count()} GPU(s) visible")
    if not cases:
        raise ValueError("run_ep_cases: cases is empty (give at least one (x, shards) pair)")
    split = []
    for x, shards in cases:
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != cfg.hidden:
            raise ValueError(f"run_ep: x must be [tokens, {cfg.hidden}], got "
                             f"{list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        split.append(_shard(x, world_size, shards))
    with tempfile.TemporaryDirectory(prefix="bwkit_ep_") as workdir:
        w_cpu = MoEWeights(*(t.detach().cpu() for t in (w.gate_weight, w.gate_bias, w.w1, w.w3, w.w2,
                                                         w.shared_w1, w.shared_w3, w.shared_w2)))
        torch.save({"cases": split, "w": w_cpu, "cfg": cfg}, os.path.join(workdir, "inputs.pt"))
        init_method = f"tcp://127.0.0.1:{free_port()}"
        if start_method == "forkserver":
            mp.get_context("forkserver").set_forkserver_preload(["torch", "torch.distributed", "bwkit.moe_ep"])
        ctx = mp.start_processes(_ep_worker, args=(world_size, backend, init_method, workdir),
                                 nprocs=world_size, join=False, start_method=start_method)
        deadline = time.monotonic() + timeout_s
        try:
            while not ctx.join(timeout=0.5):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"run_ep: the {world_size} ranks did not finish in {timeout_s:.0f} s")
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as e:
            raise RuntimeError(f"run_ep: a rank failed ({type(e).__name__}); tracebacks, root cause first:\n"
                               + _rank_errors(workdir, world_size)) from None
        finally:
            for p in ctx.processes:
                if p.is_alive():
                    p.kill()
                p.join(timeout=5)
        results = [torch.load(os.path.join(workdir, f"rank{r}.pt"), weights_only=False) for r in range(world_size)]
    out = []
    for i, (x, _) in enumerate(cases):
        y = torch.cat([results[r][i]["y"] for r in range(world_size)]).to(x.device)
        out.append((y, [results[r][i]["stats"] for r in range(world_size)]))
    return out
