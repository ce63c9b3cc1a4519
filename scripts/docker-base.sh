#!/usr/bin/env bash
# Makes the Dockerfile's build-stage base image (golang:VERSION-SUITE)
# locally, for machines that cannot pull from Docker Hub but can reach the
# Debian mirror (like our CI): a minimal Debian SUITE from debootstrap,
# with ca-certificates, make and git as in the official image, this
# machine's Go toolchain in /usr/local/go (its version must be the
# image's) and this machine's CA bundle (so the build trusts what this
# machine trusts, e.g. a proxy's certificate). It is stored in buildah's
# (and podman's) local storage under the official name, so
#
#   scripts/docker-base.sh
#   buildah bud --pull=never --isolation chroot --format docker -t mqkit .
#
# builds the image without Docker Hub. The final stage is FROM scratch and
# needs no base image. Needs root, buildah and debootstrap.
#
# It does nothing when the image is already there (FORCE=1 makes it again).
#
# Environment: MIRROR (default http://deb.debian.org/debian), FORCE.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

log() { printf '%s\n' "docker-base.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, buildah's storage)"
command -v buildah >/dev/null 2>&1 || die "buildah not found (apt-get install buildah)"

image=$(awk '$1 == "FROM" { print $2; exit }' Dockerfile)
[[ $image =~ ^golang:([0-9.]+)-([a-z]+)$ ]] || die "the Dockerfile's first FROM is $image, not golang:VERSION-SUITE"
if [ "${FORCE:-0}" != 1 ] && buildah inspect --type image "docker.io/library/$image" >/dev/null 2>&1; then
  log "docker.io/library/$image is already there (FORCE=1 makes it again)"
  exit 0
fi
for tool in debootstrap go; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install $tool)"
done
goversion=${BASH_REMATCH[1]}
suite=${BASH_REMATCH[2]}
have=$(go env GOVERSION)
[ "$have" = "go$goversion" ] || die "this machine has $have; the image $image needs go$goversion"

rootfs=$(mktemp -d)
ctr=
cleanup() {
  [ -z "$ctr" ] || buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$rootfs"
}
trap cleanup EXIT

log "debootstrap $suite (minbase, ca-certificates make git)"
debootstrap --variant=minbase --include=ca-certificates,make,git "$suite" "$rootfs" \
  "${MIRROR:-http://deb.debian.org/debian}" >"$rootfs.log" 2>&1 ||
  { tail -20 "$rootfs.log" >&2; rm -f "$rootfs.log"; die "debootstrap failed"; }
rm -f "$rootfs.log"
rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/*

log "adding Go $goversion from $(go env GOROOT) and this machine's CA bundle"
cp -a "$(go env GOROOT)" "$rootfs/usr/local/go"
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$rootfs/go/bin" "$rootfs/go/src"

ctr=$(buildah from scratch)
mnt=$(buildah mount "$ctr")
cp -a "$rootfs/." "$mnt/"
buildah umount "$ctr" >/dev/null
buildah config \
  --env PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env GOPATH=/go --env GOTOOLCHAIN=local --workingdir /go "$ctr"
buildah commit -q --format docker "$ctr" "docker.io/library/$image" >/dev/null
log "made docker.io/library/$image"
