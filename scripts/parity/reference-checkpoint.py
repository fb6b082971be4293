"""A checkpoint saved the way the reference saves one, with its logits on a token batch (issue 6).

    python3 reference-checkpoint.py --out DIR [--config shapenet] [--B 1] [--L 6921] [--seed 0]

Writes DIR/reference.pth (a training-checkpoint dict: model_state_dict with the "_orig_mod."
prefix torch.compile adds, an empty optimizer state, scaler state, epoch), DIR/tokens.bin (int32
[B, L]) and DIR/logits.npy (f32 [B, L, 132], this port's fp32 forward with plain attention).
check-converted.ts then converts the .pth with iflame and compares its logits with these.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity_io  # noqa: E402
from iflame_torch import IFlame, config_from_args  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default="shapenet")
    ap.add_argument("--B", type=int, default=1)
    ap.add_argument("--L", type=int, default=6921)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = False
    model = IFlame(config_from_args(args.config)).to(args.device).eval()
    state = {f"_orig_mod.{k}": v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"epoch": 0, "model_state_dict": state, "optimizer_state_dict": {}, "scaler_state_dict": {"scale": 65536.0}},
               os.path.join(args.out, "reference.pth"))
    tokens = parity_io.random_tokens(args.B, args.L, seed=args.seed)
    tokens.astype(np.int32).tofile(os.path.join(args.out, "tokens.bin"))
    with torch.no_grad():
        logits = model(torch.from_numpy(tokens.astype(np.int64)).to(args.device)).float().cpu().numpy()
    np.save(os.path.join(args.out, "logits.npy"), logits.astype(np.float32))
    print(f"wrote {args.out}/reference.pth, tokens.bin, logits.npy ({args.config}, B={args.B}, L={args.L}, {args.device})")


if __name__ == "__main__":
    main()
