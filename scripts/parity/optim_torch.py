"""The reference's optimizer, schedule and clipping in PyTorch, shared by the baseline
(bench_torch.py) and the learning-curve parity (curve.py). Written from SPEC §3 and our CPU
reference (src/cpu/optim.ts); no code is taken from the reference.

    Muon (momentum 0.95, Nesterov, 5 Newton-Schulz steps, step lr * 0.2 * sqrt(max(rows, cols)))
    for the 2-D weights except output_proj (embedding.weight included, as the reference's name
    rule does); the AdamW-style backup (betas 0.95, eps 1e-8 added to the uncorrected sqrt(v))
    for the rest; decoupled decay p *= 1 - lr * wd for both.
    learning_rate: linear warm-up over floor(total / 10) steps, then cosine down to 1.28e-6.
"""
import math

import torch

MIN_LR = 1.28e-6


def learning_rate(step, total_steps, lr=1e-3, min_lr=MIN_LR):
    """The LambdaLR factor times lr at 0-based optimizer step `step` (step 0 has lr 0)."""
    warmup = total_steps // 10
    if step < warmup:
        return lr * step / max(1, warmup)
    progress = (step - warmup) / max(1, total_steps - warmup)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def newton_schulz5(G, steps=5, dtype=torch.bfloat16):
    """Approximate orthogonalisation of G (quintic Newton-Schulz). The reference computes it in
    bf16; parity with our f32 GPU optimizer runs it in f32."""
    a, b, c = 3.4445, -4.7750, 2.0315
    X = G.to(dtype)
    tall = G.shape[0] > G.shape[1]
    if tall:
        X = X.T
    X = X / (X.norm() + 1e-7)
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * (A @ A)) @ X
    return X.T if tall else X


def uses_muon(name, p):
    return p.ndim >= 2 and "output_proj" not in name and "embed_tokens" not in name


class Muon(torch.optim.Optimizer):
    """Muon + the AdamW-style backup, as the reference (see the module's docstring)."""

    def __init__(self, named_params, lr=1e-3, wd=0.1, momentum=0.95, betas=(0.95, 0.95), eps=1e-8,
                 ns_dtype=torch.bfloat16):
        named = list(named_params)
        muon = [p for n, p in named if uses_muon(n, p)]
        other = [p for n, p in named if not uses_muon(n, p)]
        self.ns_dtype = ns_dtype
        super().__init__([dict(params=muon, use_muon=True), dict(params=other, use_muon=False)],
                         dict(lr=lr, wd=wd, momentum=momentum, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, wd = group["lr"], group["wd"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g, state = p.grad, self.state[p]
                if group["use_muon"]:
                    buf = state.setdefault("momentum", torch.zeros_like(g))
                    buf.mul_(group["momentum"]).add_(g)
                    update = newton_schulz5(g.add(buf, alpha=group["momentum"]), dtype=self.ns_dtype)
                    p.mul_(1 - lr * wd).add_(update.to(p.dtype), alpha=-lr * 0.2 * math.sqrt(max(p.shape)))
                else:
                    if not state:
                        state.update(step=0, m=torch.zeros_like(g), v=torch.zeros_like(g))
                    b1, b2 = group["betas"]
                    state["step"] += 1
                    state["m"].lerp_(g, 1 - b1)
                    state["v"].lerp_(g.square(), 1 - b2)
                    scale = math.sqrt(1 - b2 ** state["step"]) / (1 - b1 ** state["step"])
                    p.mul_(1 - lr * wd).addcdiv_(state["m"], state["v"].sqrt().add_(group["eps"]), value=-lr * scale)
        return None
