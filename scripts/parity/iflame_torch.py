"""Our PyTorch port of the iFlame network (SPEC §2), for parity checks and the PyTorch baseline.

Written from SPEC.md and our TS CPU reference (src/cpu/), checked against the behaviour of the
public reference (hanxiaowang00/iFlame); no code is taken from it. Parameter names, shapes and
construction order are the reference's, so `load_state_dict(strict=True)` takes its checkpoints
(see load_reference_checkpoint) and `torch.manual_seed(s); IFlame(cfg)` draws the same init.

    x = RMSNorm(Embedding(tokens))
    enc0 @ L;   x = avgpool3            enc1 @ L/3;  x = avgpool3
    bottleneck @ L/9 (bottlenecke then bottleneckd)
    x = w[0]·shift2(up3(x)) + enc1;  dec0 @ L/3
    x = w[1]·shift2(up3(x)) + enc0;  dec1 @ L;   logits = output_proj(x)

Attention implementations (model.set_attention):
    full:   "math" (explicit causal softmax, fp32 eager reference) | "sdpa" (F.scaled_dot_product_attention)
    linear: "chunked" (default) | "quadratic" (decay-masked L×L, short L only) | "recurrent" (token loop)
The decayed linear attention core runs in fp32 (fp64 if the model is fp64), autocast or not, unless
set_attention(linear_core="autocast"): then, under autocast, its products take the autocast dtype
(the PyTorch baseline's knob for finding where fp16 time goes; parity always uses fp32).

Cached decoding (DecodeState, IFlame.step) runs each level only when it has new input, as the
reference's generator does: enc0/dec1 every token, enc1/dec0 every 3rd, the bottleneck every 9th.

    python3 iflame_torch.py --selftest [--device cuda] [--configs tiny,narrow,shapenet]
"""
import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# torch < 2.0 (e.g. Debian's python3-torch 1.13 on the CPU CI machines) has no
# F.scaled_dot_product_attention: there "sdpa" runs the math form, which computes the same values.
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")
if not HAS_SDPA:
    print(f"iflame_torch: torch {torch.__version__} has no scaled_dot_product_attention; 'sdpa' runs the math form",
          file=sys.stderr)

PAD, START, END, VOCAB = 129, 130, 131, 132
FIRST_LOSS_POSITION = 8  # logits[:, 8] (the last start token) predicts tokens[:, 9]


@dataclass(frozen=True)
class Config:
    dim: int = 512
    heads: int = 16
    blocks: tuple = (4, 4, 8, 4, 4)  # enc0, enc1, bottleneck, dec0, dec1
    full_period: int = 4  # block n (1-based over all levels) is full attention iff n % full_period == 0
    vocab: int = VOCAB

    @property
    def hidden(self):
        return int(8 / 3 * self.dim)


CONFIGS = {
    "shapenet": Config(),
    "narrow": Config(dim=64, heads=2),  # the ShapeNet block layout at head dim 32, for fast tests
    "tiny": Config(dim=64, heads=2, blocks=(2, 2, 2, 2, 2), full_period=2),
    "small": Config(dim=256, heads=8, blocks=(2, 2, 4, 2, 2), full_period=2),  # src/model/config.ts's small preset
}


def config_from_args(name, dim=None, heads=None, blocks=None, full_period=None):
    """A named config with optional overrides (blocks as "4,4,8,4,4")."""
    cfg = asdict(CONFIGS[name])
    if dim is not None:
        cfg["dim"] = dim
    if heads is not None:
        cfg["heads"] = heads
    if blocks is not None:
        cfg["blocks"] = tuple(int(b) for b in blocks.split(","))
    if full_period is not None:
        cfg["full_period"] = full_period
    cfg["blocks"] = tuple(cfg["blocks"])
    return Config(**cfg)


def alibi_slopes(n):
    """ALiBi slopes (as lightning_attn's slope tensor): n = 16 gives 2^(-0.5 (h+1))."""
    def power_of_2(m):
        start = 2.0 ** (-8.0 / m)
        return [start * start ** i for i in range(m)]
    if math.log2(n).is_integer():
        return power_of_2(n)
    p = 2 ** math.floor(math.log2(n))
    return power_of_2(p) + alibi_slopes(2 * p)[0::2][: n - p]


def rope_tables(n, hd):
    """cos, sin [n, hd/2] (f32) of the half-truncated RoPE, base 1/1024, as src/cpu/rope.ts:
    f_j = (1/1024)^(j/(hd/4-1)) for j < hd/4, then hd/4 zeros; theta = f32(t * f_j)."""
    assert hd % 4 == 0, f"head dim {hd} is not a multiple of 4"
    r = hd // 4
    j = torch.arange(r, dtype=torch.float64)
    exponent = (j / max(r - 1, 1)).float().double()
    freq = torch.cat([(1.0 / 1024) ** exponent, torch.zeros(r, dtype=torch.float64)]).float()
    theta = torch.arange(n, dtype=torch.float32)[:, None] * freq[None, :]  # f32 product
    return theta.double().cos().float(), theta.double().sin().float()


def apply_rope(x, rope, offset):
    """x [B, H, T, hd] at positions offset..offset+T-1. Pair j is (x[j], x[hd/2 + j])."""
    cos, sin = rope
    T = x.shape[-2]
    assert offset + T <= cos.shape[0], f"position {offset + T} beyond the RoPE table ({cos.shape[0]})"
    cos, sin = cos[offset:offset + T], sin[offset:offset + T]
    dt = torch.promote_types(x.dtype, torch.float32)
    x1, x2 = x.to(dt).chunk(2, dim=-1)
    return torch.cat((x1 * cos + x2 * sin, x2 * cos - x1 * sin), dim=-1).type_as(x)


# ---------------------------------------------------------------------------------------------
# Decayed linear attention: o_t = sum_{u<=t} exp(-s_h (t-u)) (q_t . k_u) v_u, per head h.
# All take q, k, v [B, H, L, d] and slopes [H]; those with a state take S [B, H, d, d] (key dim,
# value dim), the recurrent state before the first row, and return the state after the last row:
#   S_t = exp(-s) S_{t-1} + k_t^T v_t,   o_t = q_t S_t.

def _decay(slopes, steps, dtype):
    """exp(-s_h * steps), computed in f64: slopes [H], steps any shape -> [H, *steps.shape]."""
    s = slopes.double().view(-1, *([1] * steps.dim()))
    return torch.exp(-s * steps.double()).to(dtype)


def _tril_decay(slopes, n, dtype, device):
    """[H, n, n]: exp(-s (t-u)) for u <= t, else 0."""
    i = torch.arange(n, device=device)
    diff = i[:, None] - i[None, :]
    return _decay(slopes, diff.clamp(min=0), dtype) * (diff >= 0).to(dtype)


def linear_attn_quadratic(q, k, v, slopes):
    mask = _tril_decay(slopes, q.shape[2], q.dtype, q.device)
    return ((q @ k.transpose(-1, -2)) * mask) @ v


def linear_attn_recurrent(q, k, v, slopes, state=None, ratio=None):
    B, H, L, d = q.shape
    if ratio is None:  # exp(-s) per head, [1, H, 1, 1]
        ratio = _decay(slopes, torch.ones((), device=q.device), q.dtype).view(1, H, 1, 1)
    S = q.new_zeros(B, H, d, d) if state is None else state
    out = []
    for t in range(L):
        S = ratio * S + k[:, :, t, :, None] * v[:, :, t, None, :]
        out.append(q[:, :, t, None, :] @ S)
    return (out[0] if L == 1 else torch.cat(out, dim=2)), S


def _chunks(q, k, v, slopes, C, state):
    """L a multiple of C. Within a chunk the masked quadratic form; across chunks the state."""
    B, H, L, d = q.shape
    n = L // C
    q, k, v = (t.reshape(B, H, n, C, d) for t in (q, k, v))
    i = torch.arange(C, device=q.device)
    intra = _tril_decay(slopes, C, q.dtype, q.device)[:, None]  # [H, 1, C, C]
    q_decay = _decay(slopes, i + 1, q.dtype)[:, None, :, None]  # row i sees the entering state decayed i+1 times
    k_decay = _decay(slopes, C - 1 - i, q.dtype)[:, None, :, None]  # key i reaches the chunk end decayed C-1-i times
    o = ((q @ k.transpose(-1, -2)) * intra) @ v  # [B, H, n, C, d]
    kv = (k * k_decay).transpose(-1, -2) @ v  # [B, H, n, d, d]: each chunk's own part of the state at its end
    # State entering chunk c (c = 0..n; c = n is the final state):
    #   P_c = exp(-s C c) S0 + sum_{m<c} exp(-s C (c-1-m)) kv_m
    c = torch.arange(n + 1, device=q.device)
    gap = c[:, None] - 1 - torch.arange(n, device=q.device)[None, :]
    W = _decay(slopes, gap.clamp(min=0) * C, q.dtype) * (gap >= 0).to(q.dtype)  # [H, n+1, n]
    P = torch.einsum("hcm,bhmde->bhcde", W, kv)
    if state is not None:
        P = P + _decay(slopes, c * C, q.dtype)[None, :, :, None, None] * state[:, :, None]
    o = o + (q * q_decay) @ P[:, :, :n]
    return o.reshape(B, H, L, d), P[:, :, n]


def linear_attn_chunked(q, k, v, slopes, chunk=128, state=None):
    """Chunked form: o [B, H, L, d] and the final state; L need not be a multiple of chunk."""
    L = q.shape[2]
    full = L - L % chunk
    outs = []
    if full:
        o, state = _chunks(q[:, :, :full], k[:, :, :full], v[:, :, :full], slopes, chunk, state)
        outs.append(o)
    if L > full:
        o, state = _chunks(q[:, :, full:], k[:, :, full:], v[:, :, full:], slopes, L - full, state)
        outs.append(o)
    return (outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)), state


# ---------------------------------------------------------------------------------------------
# Modules. Names and construction order follow the reference's state dict.

class RMSNorm(nn.Module):
    """Normalised in f32, cast back to the input dtype, then times the weight (as the reference)."""
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.to(torch.promote_types(x.dtype, torch.float32))
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return y.type_as(x) * self.weight


class SwiGLU(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.proj1 = nn.Linear(dim, hidden)
        self.proj2 = nn.Linear(dim, hidden)
        self.proj3 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.proj3(F.silu(self.proj1(x)) * self.proj2(x))


class Attention(nn.Module):
    """Full causal softmax attention, or (linear=True) decayed linear attention followed by an
    RMSNorm over the concatenated heads. RoPE on q and k in both; no biases."""
    def __init__(self, dim, heads, linear):
        super().__init__()
        self.heads, self.hd, self.linear = heads, dim // heads, linear
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.out_proj = nn.Linear(dim, dim, bias=False)
        if linear:
            self.rms_norm = RMSNorm(dim)
            self.register_buffer("slopes", torch.tensor(alibi_slopes(heads), dtype=torch.float32), persistent=False)
        self.impl = "chunked" if linear else "math"
        self.chunk = 128
        self.linear_core = "fp32"

    def forward(self, x, rope, cache=None):
        """x [B, T, D]. With a cache (dict; 'n' = positions already seen), x continues that sequence
        and the cache is updated: full blocks keep k (after RoPE) and v, linear blocks the state S."""
        B, T, D = x.shape
        offset = 0 if cache is None else cache["n"]
        heads = lambda t: t.view(B, T, self.heads, self.hd).transpose(1, 2)  # [B, H, T, hd]
        q = apply_rope(heads(self.q_proj(x)), rope, offset)
        k = apply_rope(heads(self.k_proj(x)), rope, offset)
        v = heads(self.v_proj(x))
        o = self._linear(q, k, v, cache) if self.linear else self._full(q, k, v, cache)
        o = o.transpose(1, 2).reshape(B, T, D)
        if self.linear:
            o = self.rms_norm(o)
        if cache is not None:
            cache["n"] += T
        return self.out_proj(o)

    def _full(self, q, k, v, cache):
        T = q.shape[2]
        if cache is not None:
            k, v = _append_kv(cache, k, v)
        past = k.shape[2] - T
        if self.impl == "sdpa" and HAS_SDPA:
            if T == 1:
                return F.scaled_dot_product_attention(q, k, v)
            if past == 0:
                return F.scaled_dot_product_attention(q, k, v, is_causal=True)
            mask = torch.ones(T, k.shape[2], dtype=torch.bool, device=q.device).tril(past)
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        assert self.impl in ("math", "sdpa"), self.impl
        s = q @ k.transpose(-1, -2)
        s.mul_(self.hd ** -0.5)
        if T > 1:
            allowed = torch.ones(T, k.shape[2], dtype=torch.bool, device=q.device).tril(past)
            s.masked_fill_(~allowed, float("-inf"))
        return torch.softmax(s, dim=-1) @ v

    def _linear(self, q, k, v, cache):
        in_dtype = q.dtype
        dt = torch.promote_types(in_dtype, torch.float32)
        if self.linear_core == "autocast" and cache is None and self.impl == "chunked" and _autocast_on(q.device.type):
            return linear_attn_chunked(q, k, v, self.slopes, self.chunk)[0]
        with torch.autocast(q.device.type, enabled=False):
            q, k, v = q.to(dt), k.to(dt), v.to(dt)
            slopes = self.slopes
            if cache is None:
                if self.impl == "quadratic":
                    return linear_attn_quadratic(q, k, v, slopes)
                if self.impl == "recurrent":
                    return linear_attn_recurrent(q, k, v, slopes)[0]
                assert self.impl == "chunked", self.impl
                return linear_attn_chunked(q, k, v, slopes, self.chunk)[0]
            S = cache.get("S")
            if S is None or q.shape[2] > 1:
                o, S = linear_attn_chunked(q, k, v, slopes, self.chunk, S)
            else:  # one decode step
                if "ratio" not in cache:
                    cache["ratio"] = _decay(slopes, torch.ones((), device=q.device), dt).view(1, -1, 1, 1)
                o, S = linear_attn_recurrent(q, k, v, slopes, S, cache["ratio"])
            cache["S"] = S
            return o


def _autocast_on(device_type):
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 takes no device type
        return torch.is_autocast_enabled() if device_type == "cuda" else torch.is_autocast_cpu_enabled()


def _append_kv(cache, k, v):
    """Writes k, v [B, H, T, hd] at positions n..n+T-1 of the cache (growing it by doubling) and
    returns all keys and values so far."""
    n, T = cache["n"], k.shape[2]
    K = cache.get("k")
    if K is None or K.shape[2] < n + T:
        cap = max(n + T, cache.get("cap", 0), 2 * (0 if K is None else K.shape[2]))
        B, H, _, hd = k.shape
        K2, V2 = k.new_zeros(B, H, cap, hd), v.new_zeros(B, H, cap, hd)
        if K is not None:
            K2[:, :, :n], V2[:, :, :n] = K[:, :, :n], cache["v"][:, :, :n]
        cache["k"], cache["v"] = K2, V2
    cache["k"][:, :, n:n + T] = k
    cache["v"][:, :, n:n + T] = v
    return cache["k"][:, :, :n + T], cache["v"][:, :, :n + T]


class Block(nn.Module):
    def __init__(self, cfg, full):
        super().__init__()
        self.attn = Attention(cfg.dim, cfg.heads, linear=not full)
        self.feed_forward = SwiGLU(cfg.dim, cfg.hidden)
        self.norm1 = RMSNorm(cfg.dim)
        self.norm2 = RMSNorm(cfg.dim)

    def forward(self, x, rope, cache=None):
        x = x + self.attn(self.norm1(x), rope, cache)
        return x + self.feed_forward(self.norm2(x))


def pool3(x):
    """Mean of each complete group of 3 rows (AvgPool1d(3, 3)); a trailing partial group is dropped."""
    B, L, D = x.shape
    n = L // 3
    return x[:, :3 * n].reshape(B, n, 3, D).mean(2)


def up3_shift2(x, n):
    """Nearest x3 upsampling, then 2 positions later (zeros first), cut or filled to n rows:
    row t is x[(t-2)//3] for t >= 2. n <= 3 * len(x) + 2 always holds in the hourglass."""
    up = x.repeat_interleave(3, dim=1)
    B, _, D = x.shape
    return torch.cat([x.new_zeros(B, min(2, n), D), up[:, :max(n - 2, 0)]], dim=1)


class IFlame(nn.Module):
    def __init__(self, cfg=CONFIGS["shapenet"], max_positions=90000):
        super().__init__()
        self.cfg = cfg
        n_blocks = sum(cfg.blocks)
        full = [(i + 1) % cfg.full_period == 0 for i in range(n_blocks)]
        starts = [sum(cfg.blocks[:l]) for l in range(5)]
        stack = lambda l, lo=0, hi=None: nn.ModuleList(
            Block(cfg, f) for f in full[starts[l]:starts[l] + cfg.blocks[l]][lo:hi])
        half = (cfg.blocks[2] + 1) // 2
        # Same order as the reference's constructor (so the same seed draws the same init).
        self.skip_weights2 = nn.Parameter(torch.ones(2))
        self.embedding = nn.Embedding(cfg.vocab, cfg.dim)
        self.encoder_blocks = nn.ModuleList([stack(0), stack(1)])
        self.bottlenecke = stack(2, 0, half)
        self.bottleneckd = stack(2, half)
        self.decoder_blocks = nn.ModuleList([stack(3), stack(4)])
        self.output_proj = nn.Linear(cfg.dim, cfg.vocab)
        self.norm = RMSNorm(cfg.dim)
        cos, sin = rope_tables(max_positions, cfg.dim // cfg.heads)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def level(self, l):
        """Blocks of level l: 0 enc0, 1 enc1, 2 bottleneck, 3 dec0, 4 dec1."""
        if l == 2:
            return [*self.bottlenecke, *self.bottleneckd]
        return (self.encoder_blocks[0], self.encoder_blocks[1], None, self.decoder_blocks[0], self.decoder_blocks[1])[l]

    def set_attention(self, full=None, linear=None, chunk=None, linear_core=None):
        assert linear_core in (None, "fp32", "autocast"), linear_core
        for m in self.modules():
            if isinstance(m, Attention):
                if linear_core is not None:
                    m.linear_core = linear_core
                if m.linear and linear is not None:
                    m.impl = linear
                if not m.linear and full is not None:
                    m.impl = full
                if chunk is not None:
                    m.chunk = chunk
        return self

    def _run(self, l, x, state):
        if x.shape[1] == 0:
            return x
        rope = (self.rope_cos, self.rope_sin)
        for i, block in enumerate(self.level(l)):
            x = block(x, rope, None if state is None else state.cache(l, i))
        return x

    def forward(self, tokens, state=None):
        """tokens [B, L] -> logits [B, L, vocab]. Causal: logits[:, t] depend on tokens[:, :t+1]
        only. L need not be a multiple of 9 (incomplete groups are not pooled), where the reference
        pads to 9 with token 0; both give the same logits on the first L positions.
        With a fresh DecodeState this is the prefill: the caches are filled for IFlame.step."""
        L = tokens.shape[1]
        if state is not None:
            assert state.pos == 0, "prefill needs a fresh DecodeState"
        w = self.skip_weights2
        e0 = self._run(0, self.norm(self.embedding(tokens)), state)
        e1 = self._run(1, pool3(e0), state)
        b = self._run(2, pool3(e1), state)
        d0 = self._run(3, w[0] * up3_shift2(b, e1.shape[1]) + e1, state)
        d1 = self._run(4, w[1] * up3_shift2(d0, L) + e0, state)
        if state is not None:
            state.after_prefill(e0, e1, b, d0)
        return self.output_proj(d1)

    def step(self, token, state):
        """One cached decoding step: token [B] at position p = state.pos -> logits [B, vocab] for p.
        enc0/dec1 run every token; enc1/dec0 when p % 3 == 2 (enc1 on the mean of the last 3 enc0
        outputs); the bottleneck when p % 9 == 8. Shift-by-2: dec0 row j uses bottleneck row
        (j-2)//3 and dec1 row p uses dec0 row (p-2)//3, which at those points are the latest ones
        computed (zeros before the first)."""
        p, w = state.pos, self.skip_weights2
        e0 = self._run(0, self.norm(self.embedding(token[:, None])), state)  # [B, 1, D]
        if state.e0 is None:
            state.e0, state.e1 = e0.new_zeros(e0.shape[0], 3, e0.shape[2]), e0.new_zeros(e0.shape[0], 3, e0.shape[2])
        state.e0[:, p % 3] = e0[:, 0]
        if p % 3 == 2:
            j = p // 3
            e1 = self._run(1, state.e0.mean(1, keepdim=True), state)
            state.e1[:, j % 3] = e1[:, 0]
            if j % 3 == 2:
                state.last_b = self._run(2, state.e1.mean(1, keepdim=True), state)
            up = state.last_b if j >= 2 else torch.zeros_like(e1)
            state.last_d0 = self._run(3, w[0] * up + e1, state)
        up = state.last_d0 if p >= 2 else torch.zeros_like(e0)
        out = self._run(4, w[1] * up + e0, state)
        state.pos += 1
        return self.output_proj(out)[:, 0]


class DecodeState:
    """Everything a cached decode carries between tokens: per block a cache dict (full blocks:
    k, v buffers [B, H, cap, hd]; linear blocks: S [B, H, hd, hd]; 'n' positions seen), the enc0
    and enc1 outputs of the current group of 3, and the latest bottleneck and dec0 rows."""
    def __init__(self, max_tokens=0):
        self.pos = 0
        self.caps = [max_tokens, max_tokens // 3 + 1, max_tokens // 9 + 1, max_tokens // 3 + 1, max_tokens]
        self.caches = {}
        self.e0 = self.e1 = self.last_b = self.last_d0 = None

    def cache(self, level, i):
        return self.caches.setdefault((level, i), {"n": 0, "cap": self.caps[level]})

    def after_prefill(self, e0, e1, b, d0):
        B, L, D = e0.shape
        n1 = e1.shape[1]
        self.e0, self.e1 = e0.new_zeros(B, 3, D), e0.new_zeros(B, 3, D)
        self.e0[:, :L % 3] = e0[:, L - L % 3:]
        self.e1[:, :n1 % 3] = e1[:, n1 - n1 % 3:]
        self.last_b = b[:, -1:] if b.shape[1] else None
        self.last_d0 = d0[:, -1:] if n1 else None
        self.pos = L

    def cache_bytes(self):
        return sum(t.numel() * t.element_size() for c in self.caches.values() for t in c.values()
                   if torch.is_tensor(t))


# ---------------------------------------------------------------------------------------------
# Loss, sampling, generation, checkpoints.

def lm_loss(logits, tokens):
    """Mean cross-entropy of logits[:, 8:-1] against tokens[:, 9:], pad ignored (the reference's
    loss); also the number of non-pad targets and how many the argmax got right."""
    V = logits.shape[-1]
    x = logits[:, FIRST_LOSS_POSITION:-1].reshape(-1, V)
    x = x.to(torch.promote_types(x.dtype, torch.float32))
    y = tokens[:, FIRST_LOSS_POSITION + 1:].reshape(-1).long()
    loss = F.cross_entropy(x, y, ignore_index=PAD)
    keep = y != PAD
    correct = ((x.argmax(-1) == y) & keep).sum()
    return loss, keep.sum(), correct


def sample_next(logits, top_k=50, top_p=0.95, temperature=1.0, generator=None):
    """The reference's sampling: softmax(logits / T), keep the top k, then the nucleus (the token
    that crosses top_p is kept), then a draw in proportion to what is left. logits [B, V] -> [B]."""
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_k and top_k > 0:
        idx = torch.topk(probs, min(top_k, probs.shape[-1]), dim=-1).indices
        keep = torch.zeros_like(probs, dtype=torch.bool).scatter_(-1, idx, True)
        probs = probs.masked_fill(~keep, 0.0)
    if top_p and top_p > 0:
        sp, si = torch.sort(probs, dim=-1, descending=True)
        drop = sp.cumsum(-1) > top_p
        drop = torch.cat([torch.zeros_like(drop[:, :1]), drop[:, :-1]], dim=-1)
        probs = torch.zeros_like(probs).scatter_(-1, si, sp.masked_fill(drop, 0.0))
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


@torch.no_grad()
def generate(model, prompt, n_new, top_k=50, top_p=0.95, temperature=1.0, generator=None):
    """prompt [B, P] (P >= 1) -> the n_new sampled tokens [B, n_new], with the cached decode.
    Generates exactly n_new tokens (no stop at the end token), for timing."""
    state = DecodeState(prompt.shape[1] + n_new)
    logits = model(prompt, state)[:, -1]
    out = []
    for i in range(n_new):
        tok = sample_next(logits, top_k, top_p, temperature, generator)
        out.append(tok)
        if i + 1 < n_new:
            logits = model.step(tok, state)
    return torch.stack(out, dim=1), state


def strip_prefixes(state_dict):
    """Drops the '_orig_mod.' (torch.compile) and 'module.' (DDP) prefixes, in any nesting."""
    out = {}
    for key, value in state_dict.items():
        changed = True
        while changed:
            changed = False
            for prefix in ("_orig_mod.", "module."):
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def load_reference_checkpoint(path):
    """A reference checkpoint (.pth: a dict with 'model_state_dict', or a bare state dict) as a
    state dict with our names. Tries weights_only loading first."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # older checkpoints may pickle other objects
        print(f"weights_only load failed ({type(e).__name__}); loading {path} with full unpickling", file=sys.stderr)
        obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, dict) and "model_state_dict" in obj:
        obj = obj["model_state_dict"]
    return strip_prefixes(obj)


# ---------------------------------------------------------------------------------------------
# Self-test: attention forms agree; cached decode equals the full forward on every prefix.

def _perturb(model, seed):
    """Random norm weights and skip weights (they init to 1), so the test sees them used."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith("norm1.weight") or name.endswith("norm2.weight") \
                    or name.endswith("rms_norm.weight") or name == "skip_weights2":
                p.copy_(0.75 + 0.5 * torch.rand(p.shape, generator=g))
    return model


def selftest(device, config_names, tol=1e-4):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    failures = []

    def check(what, err, limit=tol):
        ok = err <= limit
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: max abs err {err:.3e} (limit {limit:.0e})")
        if not ok:
            failures.append(what)

    # 1. The linear attention forms, and their states, on random data (incl. a start state).
    g = torch.Generator().manual_seed(1)
    B, H, L, d = 2, 3, 37, 8
    q, k, v = (torch.randn(B, H, L, d, generator=g, dtype=torch.float64).to(device) for _ in range(3))
    S0 = torch.randn(B, H, d, d, generator=g, dtype=torch.float64).to(device)
    slopes = torch.tensor(alibi_slopes(H), dtype=torch.float32, device=device)
    print("linear attention forms (f64):")
    o_rec, s_rec = linear_attn_recurrent(q, k, v, slopes)
    check("quadratic vs recurrent", (linear_attn_quadratic(q, k, v, slopes) - o_rec).abs().max().item(), 1e-10)
    for chunk in (1, 5, 16, 37, 64):
        o_ch, s_ch = linear_attn_chunked(q, k, v, slopes, chunk)
        check(f"chunked({chunk}) vs recurrent, output and state",
              max((o_ch - o_rec).abs().max().item(), (s_ch - s_rec).abs().max().item()), 1e-10)
    o_rec, s_rec = linear_attn_recurrent(q, k, v, slopes, S0)
    o_ch, s_ch = linear_attn_chunked(q, k, v, slopes, 8, S0)
    check("chunked(8) vs recurrent from a start state",
          max((o_ch - o_rec).abs().max().item(), (s_ch - s_rec).abs().max().item()), 1e-10)

    # 2. Whole model: attention forms, causality, cached decode vs full forward, gradients. In f64
    #    the limits are tight (these are exact rewrites of one another); in f32 the brief's 1e-4.
    for name in config_names:
        cfg = CONFIGS[name]
        L = 72 if name == "shapenet" else 54
        tokens = torch.randint(0, cfg.vocab, (2, L), generator=torch.Generator().manual_seed(2)).to(device)
        for dtype, limit in ((torch.float64, 1e-9), (torch.float32, tol)):
            torch.manual_seed(0)
            model = _perturb(IFlame(cfg, max_positions=4096), 1).to(device=device, dtype=dtype).eval()
            print(f"config {name} {cfg} ({dtype}, L={L}):")
            with torch.no_grad():
                ref = model.set_attention(full="math", linear="quadratic")(tokens)
                print(f"  (max |logit| {ref.abs().max().item():.2f})")
                for full, lin, chunk in (("sdpa", "chunked", 8), ("math", "chunked", 128), ("math", "recurrent", 0)):
                    model.set_attention(full=full, linear=lin, chunk=chunk or None)
                    check(f"forward {full}+{lin}{f'({chunk})' if chunk else ''} vs math+quadratic",
                          (model(tokens) - ref).abs().max().item(), limit)
                model.set_attention(full="math", linear="chunked", chunk=8)
                for n in (20, 31):
                    check(f"forward over the first {n} tokens equals the full forward there (causality)",
                          (model(tokens[:, :n]) - ref[:, :n]).abs().max().item(), limit)
                for P0 in (1, 2, 3, 7, 9, 11, 18):
                    state = DecodeState(L)
                    got = [model(tokens[:, :P0], state)]
                    for t in range(P0, L):
                        got.append(model.step(tokens[:, t], state)[:, None])
                    check(f"prefill {P0} then {L - P0} cached steps vs full forward, every position",
                          (torch.cat(got, dim=1) - ref).abs().max().item(), limit)
                model.set_attention(full="sdpa")
                state = DecodeState(L)
                got = [model(tokens[:, :5], state)] + [model.step(tokens[:, t], state)[:, None] for t in range(5, L)]
                check("cached decode with sdpa", (torch.cat(got, dim=1) - ref).abs().max().item(), limit)
            grads = {}
            for lin in ("quadratic", "chunked"):
                model.set_attention(full="math", linear=lin, chunk=8)
                model.zero_grad()
                lm_loss(model(tokens), tokens)[0].backward()
                grads[lin] = {n: p.grad.clone() for n, p in model.named_parameters()}
            err = max(((grads["chunked"][n] - grads["quadratic"][n]).abs().max() /
                       grads["quadratic"][n].abs().max().clamp(min=1e-30)).item() for n in grads["chunked"])
            check("gradients chunked vs quadratic (relative to each tensor's max)", err, limit)
    # 3. Sampling keeps only the top-k / top-p tokens.
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]], device=device).repeat(64, 1)
    drawn = set(sample_next(logits, top_k=2, top_p=0.99).tolist())
    print(f"  {'ok  ' if drawn <= {0, 1} else 'FAIL'} sampling top-k=2 drew {sorted(drawn)}")
    if not drawn <= {0, 1}:
        failures.append("sampling")
    print("selftest:", "FAILED " + ", ".join(failures) if failures else "all passed")
    return not failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--configs", default="tiny,narrow,shapenet", help="configs for the self-test")
    ap.add_argument("--params", action="store_true", help="print the state dict names and shapes")
    ap.add_argument("--config", default="shapenet")
    args = ap.parse_args()
    if args.params:
        model = IFlame(CONFIGS[args.config], max_positions=16)
        for name, t in model.state_dict().items():
            print(name, list(t.shape))
        print("total", sum(p.numel() for p in model.parameters()))
    if args.selftest:
        t0 = time.time()
        ok = selftest(args.device, args.configs.split(","))
        print(f"selftest took {time.time() - t0:.1f}s on {args.device}")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
