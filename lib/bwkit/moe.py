"""DeepSeek-V3/R1 Mixture-of-Experts: configuration (and, from lab 07, routing, experts and kernels).

Values from deepseek-ai/DeepSeek-V3 `inference/configs/config_671B.json` and `inference/model.py`.
Taught in lab 07; the full-size config feeds the lab 08 performance model (`bwkit.perfmodel`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["DeepSeekMoEConfig", "DEEPSEEK_V3", "TINY", "SMALL"]


@dataclass(frozen=True)
class DeepSeekMoEConfig:
    """Shape of a DeepSeek-V3-style model; the MoE fields drive the gate and experts, the rest the cost models."""

    hidden: int = 7168                 # dim
    num_experts: int = 256             # n_routed_experts
    num_shared_experts: int = 1        # n_shared_experts
    top_k: int = 8                     # n_activated_experts
    num_groups: int = 8                # n_expert_groups
    topk_groups: int = 4               # n_limited_groups
    route_scale: float = 2.5
    score_func: str = "sigmoid"
    expert_inter: int = 2048           # moe_inter_dim (SwiGLU width of one expert)
    dense_inter: int = 18432           # inter_dim (FFN width of the dense layers)
    num_layers: int = 61               # n_layers
    num_dense_layers: int = 3          # n_dense_layers (the first layers use a dense FFN)
    vocab: int = 129280                # vocab_size
    num_heads: int = 128               # n_heads (MLA)
    q_lora_rank: int = 1536
    kv_lora_rank: int = 512
    qk_nope_head_dim: int = 128
    qk_rope_head_dim: int = 64
    v_head_dim: int = 128
    num_mtp_layers: int = 1            # multi-token-prediction modules (num_nextn_predict_layers)
    name: str = "DeepSeek-V3/R1 671B"

    def __post_init__(self) -> None:
        for f in ("hidden", "num_experts", "top_k", "num_groups", "topk_groups", "expert_inter", "num_layers"):
            v = getattr(self, f)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"DeepSeekMoEConfig.{f} must be a positive int, got {v!r}")
        if self.num_experts % self.num_groups:
            raise ValueError(f"num_groups ({self.num_groups}) must divide num_experts ({self.num_experts})")
        if self.topk_groups > self.num_groups:
            raise ValueError(f"topk_groups ({self.topk_groups}) > num_groups ({self.num_groups})")
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k ({self.top_k}) > num_experts ({self.num_experts})")
        if self.top_k > self.topk_groups * (self.num_experts // self.num_groups):
            raise ValueError(f"top_k ({self.top_k}) exceeds the experts left in {self.topk_groups} groups")
        if self.score_func not in ("sigmoid", "softmax"):
            raise ValueError(f"score_func must be 'sigmoid' or 'softmax', got {self.score_func!r}")
        if not 0 <= self.num_dense_layers <= self.num_layers:
            raise ValueError(f"num_dense_layers must be in [0, num_layers], got {self.num_dense_layers}")

    @property
    def experts_per_group(self) -> int:
        """Routed experts in one group."""
        return self.num_experts // self.num_groups

    @property
    def num_moe_layers(self) -> int:
        """Layers with an MoE FFN."""
        return self.num_layers - self.num_dense_layers

    def scaled(self, **changes) -> DeepSeekMoEConfig:
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)


DEEPSEEK_V3 = DeepSeekMoEConfig()
# Same structure (sigmoid gate, groups, shared expert, SwiGLU), sizes that run on a CPU in seconds.
SMALL = DEEPSEEK_V3.scaled(hidden=256, num_experts=32, num_groups=8, topk_groups=4, top_k=4, expert_inter=128,
                           dense_inter=512, num_layers=4, num_dense_layers=1, vocab=1024, num_heads=4,
                           q_lora_rank=64, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16,
                           name="DeepSeek-style SMALL")
TINY = DEEPSEEK_V3.scaled(hidden=64, num_experts=16, num_groups=4, topk_groups=2, top_k=4, expert_inter=32,
                          dense_inter=128, num_layers=2, num_dense_layers=1, vocab=256, num_heads=2,
                          q_lora_rank=16, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=8,
                          name="DeepSeek-style TINY")
