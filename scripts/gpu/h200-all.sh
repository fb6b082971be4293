#!/usr/bin/env bash
# Issues 15 and 18 in one H200 call, most important first, each part under its own time limit so
# the whole stays inside one 10-minute device command (after `source .gpu/prelude.sh`):
# the new Dawn on NVIDIA (features, f16, subgroup matrices), the f16 kernels against their CPU
# references, the ShapeNet training step (ours f32 / f16; PyTorch fp32+SDPA, fp16 autocast+SDPA),
# kernel TFLOP/s, generation. Logs go to $OUT, one file per part.
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
part() { local name=$1 limit=$2; shift 2; local t0=$(date +%s); echo "=== $name"; timeout "$limit" "$@" > "$out/$name.txt" 2>&1; echo "exit $? in $(( $(date +%s) - t0 )) s"; tail -n "${TAIL:-12}" "$out/$name.txt"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/card.txt" 2>&1; cat "$out/card.txt"
part info 30 bun iflame.ts info
part probe 50 bun scripts/probe-dawn-features.ts
TAIL=6 part f16-tests 110 bun test tests/kernels-matmul-f16.test.ts tests/kernels-mixed-precision.test.ts tests/kernels-attention-f16.test.ts tests/kernels-decode-f16.test.ts
part train-f32 60 bun scripts/bench-train.ts --config shapenet --batch 8 --steps 3
part train-f16 60 bun scripts/bench-train.ts --config shapenet --batch 8 --steps 3 --precision f16
part torch-train 100 python3 scripts/parity/bench_torch.py --modes fp32_sdpa,fp16_sdpa --no-search --no-generate --warmup 1 --steps 3 --out "$out/bench_torch.json"
TAIL=60 part kernels 120 bun scripts/bench/matmul-f16.ts --peak 989e12 --iterations 3
part generate 60 bun scripts/bench-generate.ts --config shapenet --tokens 900 --runs 2 --batch 1,32 --no-profile --precision f16
