#!/usr/bin/env bash
# Issue 15/18, GPU call 1 (on the device machine, from the project root, after
# `source .gpu/prelude.sh`): the new Dawn on NVIDIA (features, f16, subgroup matrices), the f16
# kernels against their CPU references, kernel TFLOP/s, the f32 training step, eval's cost.
# Logs go to $OUT (one file per part).
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
part() { local name=$1 limit=$2; shift 2; echo "=== $name ($(date +%T))"; timeout "$limit" "$@" > "$out/$name.txt" 2>&1; echo "exit $?"; tail -n 25 "$out/$name.txt"; }
(nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv) > "$out/card.txt" 2>&1; cat "$out/card.txt"
part info 60 bun iflame.ts info --json
part probe 90 bun scripts/probe-dawn-features.ts
part f16-tests 150 bun test tests/kernels-matmul-f16.test.ts tests/kernels-mixed-precision.test.ts tests/kernels-attention-f16.test.ts tests/kernels-attention-matrices.test.ts tests/kernels-decode-f16.test.ts tests/dawn-loader.test.ts
part bench-kernels 150 env IFLAME_PEAK_TFLOPS=67 bun scripts/bench-kernels.ts matmul attention --iterations 5
# Every tensor-core layout against f16 SIMT at the model's shapes and 4096³, as a share of the
# H200's dense f16 tensor peak (989 TFLOP/s): the figures LAYOUTS in matmul-subgroup-matrix.ts needs.
part matmul-f16 240 bun scripts/bench/matmul-f16.ts --peak 989e12 --iterations 5
part bench-train-f32 120 bun scripts/bench-train.ts --config shapenet --batch 8 --steps 3
part bench-eval 90 bun scripts/bench-eval.ts --n 1000 --points 2048
