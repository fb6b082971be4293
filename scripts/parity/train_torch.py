"""Trains our PyTorch port on given initial weights and token batches with the reference's
optimizer (Muon + AdamW backup, warm-up + cosine, clipping at norm 1): the PyTorch side of the
learning-curve parity (run-curve.ts) and of the trainer-quality comparison.

    python3 train_torch.py --config tiny --weights w.safetensors --tokens batches.bin --B 2 --L 450 \
        --steps 20 --out curve.json [--save final.safetensors] [--device cuda] [--amp]

--tokens holds the batches of every step back to back: int32 [steps, B, L] (raw little-endian).
Step s trains on batch s with lr = learning_rate(s, --steps): forward, the reference loss (mean CE
over non-pad targets), backward, clip_grad_norm_(1.0), optimizer step. curve.json lists per step
the loss before the update, the gradient norm before clipping, and the lr. In f32 (the default)
Newton-Schulz runs in f32, as our GPU optimizer does; --amp trains as the reference does (fp16
autocast + GradScaler, Newton-Schulz in bf16).
"""
import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity_io  # noqa: E402
from iflame_torch import CONFIGS, IFlame, lm_loss  # noqa: E402
from optim_torch import Muon, learning_rate  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="tiny", choices=sorted(CONFIGS))
    ap.add_argument("--weights", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--B", type=int, required=True)
    ap.add_argument("--L", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--out", required=True)
    ap.add_argument("--save", help="write the final weights (f32 safetensors, state-dict names)")
    ap.add_argument("--save-config", help="JSON model config to store in --save's metadata, so iflame generate loads it")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--amp", action="store_true", help="fp16 autocast + GradScaler, Newton-Schulz in bf16")
    args = ap.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    B, L, steps = args.B, args.L, args.steps
    need = steps * B * L * 4
    size = os.path.getsize(args.tokens)
    if size != need:
        sys.exit(f"{args.tokens}: {size} bytes, expected {steps} steps x B={B} x L={L} int32 = {need}")
    batches = np.memmap(args.tokens, dtype="<i4", mode="r", shape=(steps, B, L))

    cfg = CONFIGS[args.config]
    model = IFlame(cfg, max_positions=max(L, 16))
    weights, _ = parity_io.read_safetensors(args.weights)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    model = model.to(args.device)
    model.set_attention(full="sdpa" if args.amp else "math", linear="chunked", chunk=64)
    opt = Muon(model.named_parameters(), lr=args.lr, wd=0.1, ns_dtype=torch.bfloat16 if args.amp else torch.float32)
    device_type = args.device.split(":")[0]
    if args.amp and device_type != "cuda":
        sys.exit("--amp needs a CUDA device (fp16 autocast)")
    scaler = torch.cuda.amp.GradScaler(enabled=args.amp)

    rows = []
    t0 = time.time()
    for s in range(steps):
        lr = learning_rate(s, steps, args.lr)
        for group in opt.param_groups:
            group["lr"] = lr
        tok = torch.from_numpy(np.array(batches[s])).long().to(args.device)
        with torch.autocast(device_type, dtype=torch.float16) if args.amp else contextlib.nullcontext():
            loss, count, correct = lm_loss(model(tok), tok)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        rows.append({"step": s + 1, "lr": lr, "loss": loss.item(), "acc": correct.item() / max(1, count.item()),
                     "gradNorm": norm.item()})
    seconds = time.time() - t0
    if args.save:
        metadata = {"config": args.save_config} if args.save_config else None
        parity_io.write_safetensors(args.save, {k: v.float().cpu().numpy() for k, v in model.state_dict().items()}, metadata)
    result = {"format": "iflame-curve-v1", "config": args.config, "B": B, "L": L, "steps": steps, "lr": args.lr,
              "amp": args.amp, "device": str(args.device), "torch": torch.__version__, "seconds": seconds, "curve": rows}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"train_torch: {steps} steps in {seconds:.1f}s on {args.device}, final loss {rows[-1]['loss']:.5f}")


if __name__ == "__main__":
    main()
