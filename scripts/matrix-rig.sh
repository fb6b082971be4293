#!/usr/bin/env bash
# Tensor-core kernels on a CPU: a Debian trixie root whose lavapipe (Mesa 26.1, trixie-backports)
# has VK_KHR_cooperative_matrix, so Dawn offers subgroup matrices (f16 × f16 → f16/f32, 8×8×8)
# and the real subgroup-matrix kernels compile and run, not only their emulated forms.
# Bookworm's newest lavapipe (25.0) lacks the extension, and Mesa 26 needs trixie's glibc, hence a
# chroot rather than a package. Needs root (debootstrap, chroot, bind mounts) and Debian's mirror.
#
#   bash scripts/matrix-rig.sh setup                 # once: ~5 min, ~600 MB under $IFLAME_MATRIX_ROOT
#   bash scripts/matrix-rig.sh run bun test tests/kernels-matmul-f16.test.ts
#   bash scripts/matrix-rig.sh teardown              # unmount what `run` bound into the root
#
# `run` leaves its bind mounts in place for the next run: tear down before deleting the root, or
# `rm -rf` would reach through them into this checkout.
#
# `run` executes its command in this checkout (bind-mounted at the same path, with node_modules'
# real location), with IFLAME_DAWN_TOGGLES=allow_unsafe_apis (Dawn hides subgroup matrices
# without it; iflame turns it on by itself only on NVIDIA), IFLAME_TENSOR_CORES=force, and
# IFLAME_EXPECT_TENSOR_CORES=1 (tests/tensor-cores.test.ts then fails if the device has no f16
# matrices, so tests that skip without them cannot pass silently here).
set -euo pipefail
ROOT_DIR=${IFLAME_MATRIX_ROOT:-/var/tmp/iflame-trixie}
MIRROR=${IFLAME_DEBIAN_MIRROR:-http://deb.debian.org/debian}
REPO=$(cd "$(dirname "$0")/.." && pwd -P)

setup() {
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
  if [ ! -x "$ROOT_DIR/usr/bin/apt-get" ]; then
    debootstrap --variant=minbase --include=ca-certificates trixie "$ROOT_DIR" "$MIRROR" >/dev/null
  fi
  echo "deb $MIRROR trixie-backports main" > "$ROOT_DIR/etc/apt/sources.list.d/backports.list"
  # libc6-dev: bun:ffi's TinyCC compiles ffi/shim.c against the root's libc.
  chroot "$ROOT_DIR" sh -c 'apt-get update -q >/dev/null && apt-get install -y -q -o Dpkg::Use-Pty=0 -t trixie-backports mesa-vulkan-drivers libvulkan1 libc6-dev >/dev/null'
  chroot "$ROOT_DIR" dpkg-query -W -f '${Package} ${Version}\n' mesa-vulkan-drivers libvulkan1
}

bind() {
  mkdir -p "$ROOT_DIR$1"
  mountpoint -q "$ROOT_DIR$1" || mount --bind "$1" "$ROOT_DIR$1"
}

run() {
  [ -x "$ROOT_DIR/usr/bin/apt-get" ] || { echo "matrix-rig: no root at $ROOT_DIR; run 'bash scripts/matrix-rig.sh setup' first" >&2; exit 2; }
  bind "$REPO"
  [ -e "$REPO/node_modules" ] && bind "$(readlink -f "$REPO/node_modules")"
  bind /dev
  bind /tmp
  mountpoint -q "$ROOT_DIR/proc" || mount -t proc proc "$ROOT_DIR/proc"
  local cmd
  printf -v cmd '%q ' "$@"
  chroot "$ROOT_DIR" env -i HOME=/root PATH="$REPO/node_modules/.bin:/usr/bin:/bin" TERM=dumb \
    IFLAME_DAWN_TOGGLES=allow_unsafe_apis IFLAME_TENSOR_CORES=force IFLAME_EXPECT_TENSOR_CORES=1 \
    sh -c "cd '$REPO' && $cmd"
}

teardown() {
  # Deepest first: a mount inside another (node_modules inside the checkout) goes before it.
  findmnt -rn -o TARGET | grep -E "^$ROOT_DIR/" | sort -r | while read -r m; do umount "$m"; done
}

case "${1:-}" in
  setup) setup ;;
  run) shift; run "$@" ;;
  teardown) teardown ;;
  *) echo "usage: bash scripts/matrix-rig.sh setup | run <command…> | teardown" >&2; exit 2 ;;
esac
