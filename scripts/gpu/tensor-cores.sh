#!/usr/bin/env bash
# Issues 15 and 18 on an NVIDIA GPU, in stages that each fit one 10-minute device command
# (after `source .gpu/prelude.sh`, from the project root):
#   bash scripts/gpu/tensor-cores.sh kernels   # ~8 min: features, every tensor-core kernel against
#                                              # its CPU reference, kernel TFLOP/s (matrices vs SIMT)
#   bash scripts/gpu/tensor-cores.sh train     # ~9 min: ShapeNet B=8 steps (f32, f16 SIMT, f16
#                                              # tensor cores; Muon and AdamW) and PyTorch's, f16 parity
#   bash scripts/gpu/tensor-cores.sh generate  # ~7 min: generation at batch 1 and 32, ours and PyTorch's;
#                                              # PyTorch fp16 + torch.compile training (its ~2 min compile
#                                              # does not fit beside the train stage)
# Then `bash scripts/gpu/h200-quality.sh` (one more call) trains and evaluates both trainers.
# Each part's full log goes to $OUT/<stage>/<part>.txt; the stage ends by packing them into
# $OUT/<stage>-logs.tar.gz (a device call returns at most 8 files), and prints each part's tail.
set -uo pipefail
stage=${1:?usage: bash scripts/gpu/tensor-cores.sh kernels|train|generate}
out=${OUT:-/tmp/out}
logs=$out/$stage
mkdir -p "$logs"
part() {
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s)
  echo "=== $name"
  timeout "$limit" "$@" > "$logs/$name.txt" 2>&1
  echo "exit $? in $(( $(date +%s) - t0 )) s"
  tail -n "${TAIL:-10}" "$logs/$name.txt"
}
(nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv) > "$logs/card.txt" 2>&1
cat "$logs/card.txt"
train() { bun scripts/bench-train.ts --config shapenet --batch 8 --steps 3 "$@"; }
torch_train() { python3 scripts/parity/bench_torch.py --no-search --no-generate --warmup 1 --steps 3 "$@"; }

case "$stage" in
  kernels)
    part info 60 bun iflame.ts info --json
    part probe 90 bun scripts/probe-dawn-features.ts
    # On the tensor-core kernels (forced) and the f16 SIMT ones; a device without f16 matrices fails.
    TAIL=30 part tests 200 env IFLAME_TENSOR_CORES=force IFLAME_EXPECT_TENSOR_CORES=1 bun test tests/tensor-cores.test.ts \
      tests/dawn-loader.test.ts tests/kernels-matmul-f16.test.ts tests/kernels-attention-matrices.test.ts \
      tests/kernels-linear-attention-matrices.test.ts tests/kernels-mixed-precision.test.ts tests/kernels-attention-f16.test.ts \
      tests/model-f16.test.ts
    # Every matmul layout against f16 SIMT, as a share of the H200's dense f16 peak, with the
    # fitted figures for LAYOUTS (matmul-subgroup-matrix.ts); then attention and linear attention.
    TAIL=60 part matmul-f16 200 bun scripts/bench/matmul-f16.ts --peak 989e12 --iterations 5
    TAIL=40 part attention 100 env IFLAME_PEAK_TFLOPS=989 bun scripts/bench-kernels.ts attention linear-attention --iterations 5
    ;;
  train)
    part ours-f32 60 train
    part ours-f16 60 train --precision f16
    part ours-f16-tc 60 env IFLAME_TENSOR_CORES=force bun scripts/bench-train.ts --config shapenet --batch 8 --steps 3 --precision f16 --detail
    part ours-f16-tc-adamw 60 env IFLAME_TENSOR_CORES=force bun scripts/bench-train.ts --config shapenet --batch 8 --steps 3 --precision f16 --optimizer adamw
    part torch-muon 90 torch_train --modes fp32_sdpa,fp16_sdpa --out "$logs/torch-muon.json"
    part torch-adamw 60 torch_train --modes fp16_sdpa --optim adamw --out "$logs/torch-adamw.json"
    part torch-muon-fp16core 60 torch_train --modes fp16_sdpa --linear-core autocast --out "$logs/torch-muon-fp16core.json"
    part parity-f16 90 bun scripts/parity/run-parity.ts --config shapenet --B 2 --precision f16 --dir /tmp/parity-f16
    ;;
  generate)
    part ours-f32 70 bun scripts/bench-generate.ts --config shapenet --tokens 900 --runs 2 --batch 1,32 --no-profile
    part ours-f16 70 bun scripts/bench-generate.ts --config shapenet --tokens 900 --runs 2 --batch 1,32 --no-profile --precision f16
    part torch 100 python3 scripts/parity/bench_torch.py --no-train --gen-tokens 900 --gen-batches 1,32 --out "$logs/torch-generate.json"
    part torch-compile 200 python3 scripts/parity/bench_torch.py --no-search --no-generate --warmup 2 --steps 3 --modes fp16_compile --out "$logs/torch-compile.json"
    ;;
  *) echo "unknown stage $stage (kernels, train, generate)" >&2; exit 2 ;;
esac
tar czf "$out/$stage-logs.tar.gz" -C "$out" "$stage"
echo "logs: $out/$stage-logs.tar.gz"
