"""PyTorch baseline for the ShapeNet config (issue 9): training step time, tokens/s and peak memory,
and cached generation speed, on random weights and random training-shaped token batches.

    python3 bench_torch.py --out bench.json            # default, about 5 minutes on an H100
    python3 bench_torch.py --quick --out bench.json    # a few minutes: fp32_sdpa, fp16_sdpa, fp16_compile at batch 8,
                                                       # 900 generated tokens

Training modes (each: batch --batch, then the largest batch that fits, searched by doubling then
bisecting, catching OOM; each found batch is timed too):
    fp32          fp32 eager, TF32 off, math attention + chunked linear attention (holds the L x L
                  scores: at L = 6921 batch 8 does not fit even an H200)
    fp32_sdpa     as fp32, with SDPA for the full blocks (in fp32 PyTorch takes its memory-efficient
                  kernel): the fp32 eager baseline that fits batch 8
    fp16          fp16 autocast + GradScaler, eager, math attention + chunked linear attention
    fp16_sdpa     as fp16, with SDPA (flash) for the full blocks (to separate SDPA's gain from compile's)
    fp16_compile  fp16 autocast + SDPA (flash) + chunked linear attention, torch.compile on the model
                  (batch dimension marked dynamic when the batch search runs, else static shapes);
                  if compiling fails, the error is reported
--quick: fp32_sdpa, fp16_sdpa, fp16_compile at batch --batch only (no search).
Order: fp32, fp32_sdpa, fp16, fp16_sdpa, generation, then fp16_compile (so a slow compile costs nothing else).
A step is forward + the reference loss + backward + clip to norm 1 + optimizer step + zero_grad.
Optimizer: Muon (the reference default: Newton-Schulz in bf16 for the 2-D weights except
output_proj -- embedding.weight included, as the reference's name rule does -- and AdamW-style
for the rest), or --optim adamw (torch.optim.AdamW, fused on CUDA).
tokens/s counts every position of the batch (B * L, pad included), as the model computes them all.
The decayed linear attention core runs in fp32 in every mode (our port's choice), unless
--linear-core autocast: then under fp16 autocast its chunked products run in fp16 too.

Generation: fp32 eager, random weights, prompt = the start row (9 x 130), then --gen-tokens tokens
(default 7200 = 800 faces) with the hourglass cache, top-k 50 / top-p 0.95, no stop at the end
token; at each batch of --gen-batches. Reports tokens/s per sequence and in total, and cache bytes.

The summary is printed as one JSON line (prefixed 'SUMMARY ') and written to --out after every part.
"""
import argparse
import gc
import json
import os
import sys
import time
import traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iflame_torch import CONFIGS, START, IFlame, config_from_args, generate, lm_loss  # noqa: E402
from optim_torch import Muon  # noqa: E402
from parity_io import random_tokens  # noqa: E402

MODES = {
    "fp32": dict(amp=False, full="math", compile=False),
    "fp32_sdpa": dict(amp=False, full="sdpa", compile=False),
    "fp16": dict(amp=True, full="math", compile=False),
    "fp16_sdpa": dict(amp=True, full="sdpa", compile=False),
    "fp16_compile": dict(amp=True, full="sdpa", compile=True),
}
QUICK_MODES = "fp32_sdpa,fp16_sdpa,fp16_compile"
CUDA = torch.cuda.is_available()


def sync():
    if CUDA:
        torch.cuda.synchronize()


def reset_peak():
    if CUDA:
        torch.cuda.reset_peak_memory_stats()


def peak_gib():
    return round(torch.cuda.max_memory_allocated() / 2 ** 30, 2) if CUDA else None


_OOM = tuple(t for t in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None)) if t)


def is_oom(e):
    return isinstance(e, _OOM) or "out of memory" in str(e).lower()


def free_memory():
    gc.collect()
    if CUDA:
        torch.cuda.empty_cache()


class Trainer:
    def __init__(self, cfg, mode, args):
        spec = MODES[mode]
        self.args, self.amp, self.L = args, spec["amp"], args.L
        torch.manual_seed(args.seed)
        self.model = IFlame(cfg, max_positions=max(args.L, 16)).to(args.device)
        self.model.set_attention(full=spec["full"], linear="chunked", chunk=args.chunk, linear_core=args.linear_core)
        self.forward = self.model
        if spec["compile"]:
            self.forward = torch.compile(self.model)
        self.compiled = spec["compile"]
        if args.optim == "muon":
            self.opt = Muon(self.model.named_parameters(), lr=1e-3, wd=0.1)
        else:
            self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3, weight_decay=0.1, betas=(0.9, 0.95),
                                         fused=args.device.startswith("cuda"))
        self.scaler = torch.amp.GradScaler(self.args.device.split(":")[0], enabled=self.amp)
        self.batches = {}

    def tokens(self, B):
        if B not in self.batches:
            self.batches.clear()
            self.batches[B] = torch.from_numpy(random_tokens(B, self.L, seed=B)).long().to(self.args.device)
        return self.batches[B]

    def step(self, B):
        tok = self.tokens(B)
        if self.compiled and self.args.search:  # one batch only: a static-shape compile, as the reference
            torch._dynamo.mark_dynamic(tok, 0)
        with torch.autocast(self.args.device.split(":")[0], dtype=torch.float16, enabled=self.amp):
            loss = lm_loss(self.forward(tok), tok)[0]
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        return loss.detach()

    def try_step(self, B):
        """One step at batch B; False on OOM (memory freed again)."""
        try:
            self.step(B)
            sync()
            return True
        except Exception as e:  # noqa: BLE001 (OOM can surface as several exception types)
            if not is_oom(e):
                raise
        self.opt.zero_grad(set_to_none=True)
        self.scaler = torch.amp.GradScaler(self.args.device.split(":")[0], enabled=self.amp)  # it may have been left mid-step
        self.batches.clear()
        free_memory()
        return False

    def measure(self, B, warmup, steps):
        """Mean step time after warm-up, tokens/s and peak memory at batch B; None on OOM."""
        free_memory()
        reset_peak()
        for _ in range(warmup):
            if not self.try_step(B):
                return None
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = self.step(B)
        sync()
        dt = (time.perf_counter() - t0) / steps
        return {"batch": B, "step_s": round(dt, 4), "tokens_per_s": round(B * self.L / dt, 1),
                "peak_mem_gib": peak_gib(),
                "loss": round(loss.item(), 4), "steps": steps}

    def largest_batch(self, lo, hi, cap, probes):
        """lo: a batch known to fit (0: none), hi: one known to fail (None: none yet). Doubles from
        lo until a step fails (or passes cap), then bisects down to a gap of max(1, lo/16).
        Returns the largest batch that ran."""
        b = max(1, 2 * lo)
        while hi is None and b <= cap:
            ok = self.try_step(b)
            probes.append([b, ok])
            lo, hi, b = (b, None, 2 * b) if ok else (lo, b, b)
        if hi is None:
            return lo
        while hi - lo > max(1, lo // 16):
            mid = (lo + hi) // 2
            ok = self.try_step(mid)
            probes.append([mid, ok])
            lo, hi = (mid, hi) if ok else (lo, mid)
        return lo


def bench_train(cfg, mode, args, report):
    out = report["train"].setdefault(mode, {})
    t0 = time.perf_counter()
    trainer = None
    try:
        trainer = Trainer(cfg, mode, args)
        if trainer.compiled:
            tc = time.perf_counter()
            ok = trainer.try_step(args.batch)
            out["first_step_incl_compile_s"] = round(time.perf_counter() - tc, 1)
            if not ok:
                out["first_step_incl_compile_s"] = "OOM at batch %d" % args.batch
        r = trainer.measure(args.batch, args.warmup, args.steps)
        out[f"batch{args.batch}"] = r or {"batch": args.batch, "error": "OOM"}
        print(f"[{mode}] batch {args.batch}: {out[f'batch{args.batch}']}", flush=True)
        if args.search:
            probes = []
            best = trainer.largest_batch(args.batch if r else 0, None if r else args.batch, args.max_batch, probes)
            out["max_batch"] = best
            out["search_probes"] = probes
            if best and best != args.batch:
                rb = trainer.measure(best, 1, max(1, args.steps // 2))
                out["at_max_batch"] = rb or {"batch": best, "error": "OOM when timed"}
            print(f"[{mode}] largest batch {best}: {out.get('at_max_batch')} probes {probes}", flush=True)
    except Exception as e:  # noqa: BLE001
        out["error"] = f"{type(e).__name__}: {str(e)[:2000]}"
        out["traceback_tail"] = traceback.format_exc()[-3000:]
        print(f"[{mode}] failed: {out['error']}", flush=True)
    finally:
        out["wall_s"] = round(time.perf_counter() - t0, 1)
        del trainer
        if mode == "fp16_compile":
            torch._dynamo.reset()
        free_memory()


@torch.no_grad()
def bench_generate(cfg, args, report):
    torch.manual_seed(args.seed)
    model = IFlame(cfg, max_positions=args.gen_tokens + 16).to(args.device).eval()
    model.set_attention(full="math", linear="chunked", chunk=args.chunk)
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    for B in args.gen_batches:
        key = f"batch{B}"
        try:
            prompt = torch.full((B, 9), START, dtype=torch.long, device=args.device)
            generate(model, prompt, 32, generator=g)  # warm-up
            free_memory()
            reset_peak()
            sync()
            t0 = time.perf_counter()
            out, state = generate(model, prompt, args.gen_tokens, generator=g)
            sync()
            dt = time.perf_counter() - t0
            report["generate"][key] = {
                "batch": B, "tokens": args.gen_tokens, "seconds": round(dt, 2),
                "tokens_per_s_per_sequence": round(args.gen_tokens / dt, 1),
                "tokens_per_s_total": round(B * args.gen_tokens / dt, 1),
                "ms_per_step": round(1000 * dt / args.gen_tokens, 3),
                "cache_mib": round(state.cache_bytes() / 2 ** 20, 1),
                "peak_mem_gib": peak_gib(),
            }
            del out, state
        except Exception as e:  # noqa: BLE001
            report["generate"][key] = {"batch": B, "error": f"{type(e).__name__}: {str(e)[:1000]}"}
        print(f"[generate] {report['generate'][key]}", flush=True)
        free_memory()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="shapenet", choices=sorted(CONFIGS))
    ap.add_argument("--dim", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--blocks")
    ap.add_argument("--full-period", type=int)
    ap.add_argument("--L", type=int, default=6921)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--modes", help=f"comma list of {','.join(MODES)} (default all; --quick: {QUICK_MODES})")
    ap.add_argument("--warmup", type=int, help="warm-up steps (default 2; --quick: 1)")
    ap.add_argument("--steps", type=int, help="timed steps (default 5; --quick: 2)")
    ap.add_argument("--no-search", dest="search", action="store_false", help="skip the largest-batch search")
    ap.add_argument("--max-batch", type=int, default=512)
    ap.add_argument("--optim", default="muon", choices=["muon", "adamw"])
    ap.add_argument("--chunk", type=int, default=128, help="linear attention chunk")
    ap.add_argument("--linear-core", default="fp32", choices=["fp32", "autocast"],
                    help="precision of the linear-attention core under autocast (default fp32)")
    ap.add_argument("--gen-tokens", type=int, help="tokens generated per sequence (default 7200; --quick: 900)")
    ap.add_argument("--gen-batches", default="1,32")
    ap.add_argument("--no-train", dest="train", action="store_false")
    ap.add_argument("--no-generate", dest="gen", action="store_false")
    ap.add_argument("--quick", action="store_true",
                    help=f"{QUICK_MODES} at --batch only, 1+2 steps, 900 generated tokens")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", default="bench_torch.json")
    args = ap.parse_args()
    if args.quick:
        args.search = False
        args.modes = args.modes or QUICK_MODES
    args.warmup = args.warmup if args.warmup is not None else 1 if args.quick else 2
    args.steps = args.steps if args.steps is not None else 2 if args.quick else 5
    args.gen_tokens = args.gen_tokens or (900 if args.quick else 7200)
    modes = (args.modes or ",".join(MODES)).split(",")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        ap.error(f"unknown mode(s) {','.join(unknown)}; choose from {','.join(MODES)}")
    args.gen_batches = [int(b) for b in args.gen_batches.split(",") if b]
    if not args.device.startswith("cuda"):
        global CUDA
        CUDA = False
        print("not on CUDA: a smoke test of the code paths only (no memory numbers, fp16 autocast on CPU)")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cfg = config_from_args(args.config, args.dim, args.heads, args.blocks, args.full_period)
    report = {
        "what": "PyTorch baseline (scripts/parity/bench_torch.py), random weights and tokens",
        "device": torch.cuda.get_device_name(args.device) if CUDA else "cpu",
        "gpu_mem_gib": round(torch.cuda.get_device_properties(args.device).total_memory / 2 ** 30, 1) if CUDA else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda, "config": cfg.__dict__ | {"blocks": list(cfg.blocks)}, "L": args.L,
        "params": sum(p.numel() for p in IFlame(cfg, max_positions=16).parameters()),
        "optimizer": args.optim, "linear_attention": f"chunked({args.chunk}), {args.linear_core} core",
        "modes": modes, "batch": args.batch, "search": args.search,
        "warmup": args.warmup, "steps": args.steps, "train": {}, "generate": {},
    }
    t0 = time.perf_counter()

    def save():
        report["total_s"] = round(time.perf_counter() - t0, 1)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)

    # Compiling comes last, so a slow compile cannot cost the other numbers.
    for mode in [m for m in modes if m != "fp16_compile"] if args.train else []:
        bench_train(cfg, mode, args, report)
        save()
    if args.gen:
        bench_generate(cfg, args, report)
        save()
    if args.train and "fp16_compile" in modes:
        bench_train(cfg, "fp16_compile", args, report)
    save()
    print("SUMMARY " + json.dumps(report, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
