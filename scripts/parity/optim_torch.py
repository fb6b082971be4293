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
    """Approximate orthogonalisation of each matrix of G [..., rows, cols] (quintic Newton-Schulz,
    each normalised by its own norm). The reference computes it in bf16, one matrix at a time;
    parity with our f32 GPU optimizer runs it in f32. A stack of same-shaped matrices runs as
    batched products (the same arithmetic per matrix, far fewer kernel launches)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    X = G.to(dtype)
    tall = G.shape[-2] > G.shape[-1]
    if tall:
        X = X.transpose(-1, -2)
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        A = X @ X.transpose(-1, -2)
        X = a * X + (b * A + c * (A @ A)) @ X
    return X.transpose(-1, -2) if tall else X


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
            if group["use_muon"]:
                self._muon_step(group)
            else:
                self._adam_step(group)
        return None

    def _muon_step(self, group):
        """Nesterov momentum, then Newton-Schulz on each matrix; same-shaped matrices go as one
        stack (per-matrix arithmetic unchanged: the reference loops over them one by one)."""
        lr, wd, momentum = group["lr"], group["wd"], group["momentum"]
        by_shape = {}
        for p in group["params"]:
            if p.grad is not None:
                by_shape.setdefault(tuple(p.shape), []).append(p)
        for shape, params in by_shape.items():
            grads = [p.grad for p in params]
            bufs = [self.state[p].setdefault("momentum", torch.zeros_like(p.grad)) for p in params]
            torch._foreach_mul_(bufs, momentum)
            torch._foreach_add_(bufs, grads)
            nesterov = torch._foreach_add(grads, bufs, alpha=momentum)
            updates = newton_schulz5(torch.stack(nesterov), dtype=self.ns_dtype).to(params[0].dtype)
            torch._foreach_mul_(params, 1 - lr * wd)
            torch._foreach_add_(params, list(updates.unbind(0)), alpha=-lr * 0.2 * math.sqrt(max(shape)))

    def _adam_step(self, group):
        lr, wd, eps = group["lr"], group["wd"], group["eps"]
        b1, b2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g, state = p.grad, self.state[p]
            if not state:
                state.update(step=0, m=torch.zeros_like(g), v=torch.zeros_like(g))
            state["step"] += 1
            state["m"].lerp_(g, 1 - b1)
            state["v"].lerp_(g.square(), 1 - b2)
            scale = math.sqrt(1 - b2 ** state["step"]) / (1 - b1 ** state["step"])
            p.mul_(1 - lr * wd).addcdiv_(state["m"], state["v"].sqrt().add_(eps), value=-lr * scale)
