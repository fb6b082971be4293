#!/usr/bin/env bash
# Issue 18 part 4, one GPU call: our trainer and the PyTorch port trained on the built-in shapes
# data (small preset) from the same weights on the same batches for the same steps
# (scripts/parity/run-curve.ts), 256 meshes generated from each with our sampler, each evaluated
# against the held-out test split with `iflame eval`. Logs and the eval JSONs go to $OUT.
#   STEPS=600 BATCH=16 bash scripts/gpu/h200-quality.sh      (after source .gpu/prelude.sh)
set -uo pipefail
out=${OUT:-/tmp/out}; work=/tmp/quality
steps=${STEPS:-600}; batch=${BATCH:-16}; count=${COUNT:-256}; config=${CONFIG:-small}; device=${TORCH_DEVICE:-cuda}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv > "$out/card.txt" 2>&1; cat "$out/card.txt"
timeout 400 bun scripts/parity/run-curve.ts --config "$config" --data shapes --meshes 8192 --steps "$steps" --batch "$batch" \
  --save --torch-device "$device" --dir "$work" ${CURVE_ARGS:-} > "$out/quality-curve.json" 2> "$out/quality-curve.log"
echo "curve exit $?"; grep -E '"(maxLossRelError|ours|torch)"|trainSeconds' -A2 "$out/quality-curve.json" | head -20; tail -3 "$out/quality-curve.log"
bun iflame.ts dataset export --data shapes --config "$config" --split test --count "$count" --out "$work/ref" > "$out/export.txt" 2>&1
for side in ours torch; do
  ckpt=$work/ours; [ $side = torch ] && ckpt=$work/torch-final.safetensors
  start=$(date +%s)
  timeout 150 bun iflame.ts generate --checkpoint "$ckpt" --count "$count" --batch 128 --seed 1 --out "$work/$side-samples" \
    --eval-against "$work/ref" > "$out/generate-$side.txt" 2>&1
  echo "$side generate+eval exit $? in $(( $(date +%s) - start )) s"; tail -n 22 "$out/generate-$side.txt"
  cp "$work/$side-samples/eval.json" "$out/eval-$side.json" 2>/dev/null
done
