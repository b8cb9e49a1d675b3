#!/usr/bin/env bash
# Builds a local Node.js base image for the Containerfile where no image
# registry is reachable (air-gapped build hosts, this project's CI):
# a minimal Debian (debootstrap --variant=minbase) with this machine's
# `node` and `npm` copied in, the machine's CA bundle, and an npmrc `cafile`
# line so `npm ci` inside the build reaches the npm registry through a
# TLS-inspecting proxy. The Debian mirror is the one this machine's apt uses.
#
#   infra/container/make-base-image.sh [IMAGE_NAME]   (default localhost/tftpkit-node-base:20)
#   podman build --network host --build-arg NODE_IMAGE=localhost/tftpkit-node-base:20 \
#     -f infra/container/Containerfile -t tftpkit .
#
# Needs root, debootstrap and podman.
set -euo pipefail
IMAGE="${1:-localhost/tftpkit-node-base:20}"
SUITE="${SUITE:-bookworm}"

mirror() {
  # First "URIs:" of a deb822 source, else the first "deb URL" line.
  local u
  u=$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -n1 || true)
  if [ -z "$u" ]; then
    u=$(grep -h -m1 -E '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
  fi
  [ -n "$u" ] || { echo "make-base-image: no Debian mirror found in /etc/apt" >&2; exit 1; }
  echo "$u"
}

NODE_BIN="$(readlink -f "$(command -v node)")"
NPM_DIR="$(dirname "$(readlink -f "$(command -v npm)")")/.."
[ -f "$NPM_DIR/package.json" ] || NPM_DIR="$(npm root -g)/npm"

WORK="$(mktemp -d /tmp/tftpkit-base.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"

debootstrap --variant=minbase --include=ca-certificates,libcap2-bin "$SUITE" "$ROOTFS" "$(mirror)" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -n 20 "$WORK/debootstrap.log" >&2; exit 1; }

install -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
mkdir -p "$ROOTFS/usr/local/lib/node_modules"
cp -a "$(readlink -f "$NPM_DIR")" "$ROOTFS/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$ROOTFS/usr/local/etc/npmrc" 2>/dev/null \
    || { mkdir -p "$ROOTFS/usr/local/etc" && printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$ROOTFS/usr/local/etc/npmrc"; }
fi
rm -rf "$ROOTFS/var/cache/apt/archives/"*.deb "$ROOTFS/var/lib/apt/lists/"*

tar -C "$ROOTFS" -c . | podman import \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' - "$IMAGE" >/dev/null
echo "$IMAGE"
