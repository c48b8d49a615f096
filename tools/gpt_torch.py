"""The PyTorch twin of Ringmaster's `gpt` network (src/objectives/gpt.cpp, docs/method.md §6): nanochat's GPT
scaled down to CPUs, written once for everything on the Python side that needs the same model —
tests/gpt_reference.py (gradients against autograd), scripts/bench_gpt_torch.py (speed against PyTorch) and
the checkpoint tool (loading a run's parameters). It is the specification in PyTorch, not a trainer.

The model (byte tokens, vocabulary V = 256; L layers, H heads, width C, head dim D = C / H, context T):
  x = rmsnorm(wte[idx]);  per block: x += attn(rmsnorm(x)); x += mlp(rmsnorm(x));
  logits = 15 · tanh(lm_head(rmsnorm(x)) / 15);  loss = mean cross-entropy against the next byte.
rmsnorm is parameter-free, y = x / sqrt(mean(x²) + 1e-6). attn: q, k, v = x c_qᵀ, x c_kᵀ, x c_vᵀ split into
H heads; rotary positions on q and k (nanochat's halves convention, base 10000); q and k rmsnorm'ed over
the head dim (QK-norm); causal softmax attention with scale 1/sqrt(D); heads concatenated; c_proj. mlp:
c_proj(relu(c_fc(x))²) with c_fc (4C, C). No biases, no gains, untied head.

Parameters are named as Ringmaster's layout table names its blocks, plus ".weight": wte.weight (V, C),
h.{l}.attn.c_q/c_k/c_v/c_proj.weight (C, C), h.{l}.mlp.c_fc.weight (4C, C), h.{l}.mlp.c_proj.weight (C, 4C),
lm_head.weight (V, C), registered in the layout's order, so model.parameters() walks the flat buffer in
order: load_flat / to_flat convert between the two.

Use from tests/ or scripts/ without installing anything:
  sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools")); import gpt_torch
Needs Debian's python3-torch (1.13) and python3-numpy under /usr/bin/python3 (scripts/bootstrap.sh).
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 256
RMSNORM_EPS = 1e-6
SOFTCAP = 15.0
ROTARY_BASE = 10000.0


def rmsnorm(x):
    """Parameter-free RMSNorm over the last dimension (torch 1.13 has no F.rms_norm)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + RMSNORM_EPS)


def rotary_tables(context, head_dim, dtype=torch.float32):
    """cos, sin (context, head_dim / 2) of the angle t · 10000^(−2j / head_dim), computed in float64."""
    j = torch.arange(head_dim // 2, dtype=torch.float64)
    inv_freq = ROTARY_BASE ** (-2.0 * j / head_dim)
    angle = torch.outer(torch.arange(context, dtype=torch.float64), inv_freq)
    return angle.cos().to(dtype), angle.sin().to(dtype)


def apply_rotary(x, cos, sin):
    """x (B, T, H, D), cos / sin (T, D/2): nanochat's rotation of the two halves of the head dim,
    y1 = x1 cos + x2 sin, y2 = −x1 sin + x2 cos."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    return torch.cat([x1 * cos + x2 * sin, x2 * cos - x1 * sin], dim=-1)


def causal_attention(q, k, v, attention="math"):
    """softmax(q kᵀ / sqrt(D), causal) v for q, k, v (B, H, T, D). attention = "math" writes the formula out;
    "sdpa" calls PyTorch's fused F.scaled_dot_product_attention (public from 2.0; 1.13 has it as
    F._scaled_dot_product_attention)."""
    if attention == "sdpa":
        if hasattr(F, "scaled_dot_product_attention"):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F._scaled_dot_product_attention(q, k, v, None, 0.0, False, True)[0]
    if attention != "math":
        raise ValueError(f"attention must be 'math' or 'sdpa', not {attention!r}")
    T = q.shape[-2]
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v


def has_sdpa():
    return hasattr(F, "scaled_dot_product_attention") or hasattr(F, "_scaled_dot_product_attention")


class CausalSelfAttention(nn.Module):
    def __init__(self, width, heads, attention):
        super().__init__()
        self.heads, self.attention = heads, attention
        self.c_q = nn.Linear(width, width, bias=False)
        self.c_k = nn.Linear(width, width, bias=False)
        self.c_v = nn.Linear(width, width, bias=False)
        self.c_proj = nn.Linear(width, width, bias=False)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        q = self.c_q(x).view(B, T, self.heads, C // self.heads)
        k = self.c_k(x).view(B, T, self.heads, C // self.heads)
        v = self.c_v(x).view(B, T, self.heads, C // self.heads)
        q, k = rmsnorm(apply_rotary(q, cos, sin)), rmsnorm(apply_rotary(k, cos, sin))  # rotary, then QK-norm
        y = causal_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), self.attention)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width, bias=False)
        self.c_proj = nn.Linear(4 * width, width, bias=False)

    def forward(self, x):
        return self.c_proj(F.relu(self.c_fc(x)).square())


class Block(nn.Module):
    def __init__(self, width, heads, attention):
        super().__init__()
        self.attn = CausalSelfAttention(width, heads, attention)
        self.mlp = MLP(width)

    def forward(self, x, cos, sin):
        x = x + self.attn(rmsnorm(x), cos, sin)
        return x + self.mlp(rmsnorm(x))


class GPT(nn.Module):
    """The network of one shape. forward(idx (B, T) of bytes, targets (B, T) or None) → (logits (B, T, V)
    soft-capped, mean cross-entropy or None). attention: "math" or "sdpa" (causal_attention)."""

    def __init__(self, layers, heads, width, context, vocab=VOCAB, attention="math"):
        super().__init__()
        if width % heads != 0 or (width // heads) % 2 != 0:
            raise ValueError(f"width {width} must split into {heads} heads of an even head dim")
        self.layers, self.heads, self.width, self.context, self.vocab = layers, heads, width, context, vocab
        self.wte = nn.Embedding(vocab, width)
        self.h = nn.ModuleList([Block(width, heads, attention) for _ in range(layers)])
        self.lm_head = nn.Linear(width, vocab, bias=False)
        cos, sin = rotary_tables(context, width // heads)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        if T > self.context:
            raise ValueError(f"sequence of {T} tokens is longer than the context {self.context}")
        cos, sin = self.cos[:T], self.sin[:T]
        x = rmsnorm(self.wte(idx.long()))
        for block in self.h:
            x = block(x, cos, sin)
        logits = self.lm_head(rmsnorm(x))
        logits = SOFTCAP * torch.tanh(logits / SOFTCAP)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, self.vocab).float(), targets.long().reshape(-1))


def layout(model):
    """[(block name, (rows, cols))] in Ringmaster's layout order (src/objectives/gpt.cpp, gpt_layout)."""
    return [(name.removesuffix(".weight"), tuple(p.shape)) for name, p in model.named_parameters()]


def parameter_count(layers, width, vocab=VOCAB):
    """How many parameters the network of this shape has, without building it: the layout above, wte and
    lm_head (V, C) and per block c_q, c_k, c_v, c_proj (C, C), c_fc (4C, C), mlp.c_proj (C, 4C). Heads and
    context change no size: two shapes that differ only there have as many parameters."""
    return 2 * vocab * width + layers * 12 * width * width


def load_flat(model, flat):
    """Copies a flat float32 buffer in the layout order (numpy array or tensor) into the model's parameters."""
    flat = torch.as_tensor(np.asarray(flat, dtype=np.float32)) if not torch.is_tensor(flat) else flat.float()
    total = sum(p.numel() for p in model.parameters())
    if flat.numel() != total:
        raise ValueError(f"the flat buffer has {flat.numel()} floats, the model {total}")
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(flat[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
    return model


def to_flat(model):
    """The model's parameters as one float32 tensor in the layout order."""
    return torch.cat([p.detach().reshape(-1).float() for p in model.parameters()])
