#!/usr/bin/env bash
# Makes sure a Vulkan driver that Dawn accepts is installed. On Linux without a GPU driver it
# installs Mesa's CPU driver (lavapipe) from Debian bookworm-backports: bookworm's own Mesa 22.3
# is too old for Dawn. macOS (Metal) and Windows (D3D12) need nothing.
set -euo pipefail
[ "$(uname -s)" = "Linux" ] || exit 0

has_loader() { ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; }
has_gpu_icd() { ls /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ /usr/local/nvidia/share/vulkan/icd.d/ 2>/dev/null | grep -v lvp_icd | grep -q '\.json'; }
mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed 's/^[0-9]*://' | cut -d. -f1; }

if [ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && has_loader; then exit 0; fi
if has_loader && has_gpu_icd; then exit 0; fi
if has_loader && [ "$(mesa_version || echo 0)" -ge 24 ] 2>/dev/null; then exit 0; fi

if ! command -v apt-get >/dev/null; then
  echo "No Vulkan driver found. Install your GPU vendor's driver, or Mesa >= 24 with lavapipe (the CPU driver)." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "No Vulkan driver found; run as root to install Mesa lavapipe from bookworm-backports." >&2; exit 1; }
  SUDO=sudo
fi
echo "No usable Vulkan driver: installing Mesa lavapipe (CPU) from Debian bookworm-backports..." >&2
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
    $SUDO tee /etc/apt/sources.list.d/iflame-backports.sources >/dev/null
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
echo "Installed Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)." >&2
