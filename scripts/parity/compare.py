"""Forward + loss + backward of our PyTorch port on given weights and tokens, written to files for
the TS side to compare against (issue 5: parity).

    python3 compare.py --weights w.safetensors --tokens t.bin --B 2 --L 6921 --config shapenet --out result.json

INPUTS
  --weights W.safetensors  f32 tensors named exactly as the state dict (see parity_io.py); loaded
                           with strict=True. Without it: torch's default init from --init-seed
                           (same draws as the reference's constructor), and --write-weights saves it.
  --tokens T.bin|T.npy     int32 [B, L] row-major (.bin: raw little-endian, no header). Without it:
                           a random training-shaped batch from --token-seed; --write-tokens saves it.

OUTPUTS (all beside --out, named from its stem; e.g. --out runs/result.json):
  runs/result.json                 summary (format "iflame-parity-v1"):
      loss        mean CE of logits[:, 8:-1] vs tokens[:, 9:], pad 129 ignored (the training loss)
      loss_f64    the same from the same logits, reduced in f64
      loss_sum, count, correct     sum over non-pad targets (loss_f64 * count), their number, argmax hits
      logits      {file, shape [B, L, V], dtype, sha256 (of the f32 little-endian bytes of the
                  .npy's data), max_abs, mean, rms, sample: {positions [[b, t], ...], values [[V]...]}}
      grads       {file, global_norm, per_param {name: {norm, max_abs}}}
      config, B, L, dtype, device, attention, torch version, seconds
  runs/result.logits.npy           f32 [B, L, V] logits (every position; skip with --no-logits-file)
  runs/result.grads.safetensors    f32 gradient of the mean loss for every parameter, same names and
                                   shapes as the weights, in state-dict order

Compute: --dtype float32 (default; TF32 off) or float64; --amp: the forward and loss under fp16
autocast (CUDA only; f32 weights, as the reference trains), the backward from the loss times 2^16
and the gradients divided by it again (GradScaler's first step); full attention "math" (default) or
"sdpa"; linear attention "chunked" (default, exact up to rounding; chunk 64) or "quadratic" (needs
B*16*L^2 floats per layer: short L only) or "recurrent" (slow).
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity_io  # noqa: E402
from iflame_torch import CONFIGS, IFlame, config_from_args, lm_loss  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights")
    ap.add_argument("--tokens")
    ap.add_argument("--B", type=int)
    ap.add_argument("--L", type=int)
    ap.add_argument("--config", default="shapenet", choices=sorted(CONFIGS))
    ap.add_argument("--dim", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--blocks", help="blocks per level, e.g. 4,4,8,4,4")
    ap.add_argument("--full-period", type=int)
    ap.add_argument("--out", default="result.json")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--full-attn", default="math", choices=["math", "sdpa"])
    ap.add_argument("--linear-attn", default="chunked", choices=["chunked", "quadratic", "recurrent"])
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--init-seed", type=int, default=0)
    ap.add_argument("--token-seed", type=int, default=0)
    ap.add_argument("--write-weights", help="save the weights used (f32 safetensors)")
    ap.add_argument("--write-tokens", help="save the tokens used (.bin or .npy)")
    ap.add_argument("--no-logits-file", action="store_true")
    ap.add_argument("--amp", action="store_true", help="fp16 autocast (CUDA), loss scaled by 2^16 for the backward")
    args = ap.parse_args()
    if args.amp and (not args.device.startswith("cuda") or args.dtype != "float32"):
        sys.exit("compare.py: --amp needs --device cuda and --dtype float32 (fp16 autocast as the reference trains)")

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dtype = getattr(torch, args.dtype)
    cfg = config_from_args(args.config, args.dim, args.heads, args.blocks, args.full_period)
    t0 = time.time()

    if args.tokens:
        tokens = parity_io.read_tokens(args.tokens, args.B, args.L)
    else:
        tokens = parity_io.random_tokens(args.B or 2, args.L or 6921, args.token_seed)
    if args.write_tokens:
        parity_io.write_tokens(args.write_tokens, tokens)
    B, L = tokens.shape
    assert tokens.min() >= 0 and tokens.max() < cfg.vocab, "token outside the vocabulary"

    torch.manual_seed(args.init_seed)
    model = IFlame(cfg, max_positions=max(L, 16))
    if args.weights:
        weights, _ = parity_io.read_safetensors(args.weights)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    if args.write_weights:
        parity_io.write_safetensors(args.write_weights, {k: v.float().numpy() for k, v in model.state_dict().items()},
                                    {"config": json.dumps(cfg.__dict__ | {"blocks": list(cfg.blocks)})})
    model = model.to(device=args.device, dtype=dtype)
    model.set_attention(full=args.full_attn, linear=args.linear_attn, chunk=args.chunk)

    tok = torch.from_numpy(tokens).long().to(args.device)
    t1 = time.time()
    loss_scale = 2.0 ** 16 if args.amp else 1.0
    with torch.autocast("cuda", dtype=torch.float16, enabled=args.amp):
        logits = model(tok)
        loss, count, correct = lm_loss(logits, tok)
    (loss * loss_scale).backward()
    if args.amp:
        for p in model.parameters():
            if p.grad is not None:
                p.grad.div_(loss_scale)
    with torch.no_grad():  # the same loss from the same logits, reduced in f64
        loss64 = lm_loss(logits.detach().double(), tok)[0].item()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t2 = time.time()

    stem = os.path.splitext(args.out)[0]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    lg = logits.detach().float().cpu().numpy().astype("<f4")
    logits_info = {
        "file": None if args.no_logits_file else os.path.basename(stem + ".logits.npy"),
        "shape": list(lg.shape), "dtype": "float32",
        "sha256": hashlib.sha256(np.ascontiguousarray(lg).tobytes()).hexdigest(),
        "max_abs": float(np.abs(lg).max()), "mean": float(lg.mean(dtype=np.float64)),
        "rms": float(np.sqrt((lg.astype(np.float64) ** 2).mean())),
    }
    positions = sorted({(b, t) for b in (0, B - 1) for t in (0, 8, 9, min(17, L - 1), L // 2, L - 2, L - 1) if 0 <= t < L})
    logits_info["sample"] = {"positions": [list(p) for p in positions],
                             "values": [lg[b, t].tolist() for b, t in positions]}
    if not args.no_logits_file:
        np.save(stem + ".logits.npy", lg)

    grads = {}
    for name, p in model.named_parameters():
        grads[name] = (p.grad if p.grad is not None else torch.zeros_like(p)).detach().double().cpu().numpy()
    parity_io.write_safetensors(stem + ".grads.safetensors", grads, {"loss": repr(loss.item())})
    per_param = {n: {"norm": float(np.sqrt((g ** 2).sum())), "max_abs": float(np.abs(g).max()) if g.size else 0.0}
                 for n, g in grads.items()}

    result = {
        "format": "iflame-parity-v1",
        "config": cfg.__dict__ | {"blocks": list(cfg.blocks)},
        "B": B, "L": L, "dtype": args.dtype, "amp": args.amp, "device": str(args.device),
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "attention": {"full": args.full_attn, "linear": args.linear_attn, "chunk": args.chunk},
        "torch": torch.__version__,
        "weights": args.weights or f"torch default init, seed {args.init_seed}",
        "tokens": args.tokens or f"random, seed {args.token_seed}",
        "loss": loss.item(), "loss_f64": loss64, "loss_sum": loss64 * count.item(),
        "count": int(count.item()), "correct": int(correct.item()),
        "accuracy": correct.item() / max(count.item(), 1),
        "logits": logits_info,
        "grads": {"file": os.path.basename(stem + ".grads.safetensors"),
                  "global_norm": float(np.sqrt(sum(v["norm"] ** 2 for v in per_param.values()))),
                  "per_param": per_param},
        "seconds": {"setup": t1 - t0, "forward_backward": t2 - t1},
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("B", "L", "dtype", "device", "loss", "count", "correct")}
                     | {"grad_norm": result["grads"]["global_norm"], "logits_sha256": logits_info["sha256"][:16],
                        "seconds": round(t2 - t1, 2)}))


if __name__ == "__main__":
    main()
