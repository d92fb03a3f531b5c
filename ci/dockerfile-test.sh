#!/usr/bin/env bash
# Builds ci/Dockerfile itself, every stage, and runs the image it makes.
#
#   ci/dockerfile-test.sh
#   EXPORT_BINARIES=DIR ci/dockerfile-test.sh   also leave the image's two binaries in DIR
#
# ci/image-test.sh proves the runtime file tree; this script proves the
# Dockerfile that users build: its COPY paths, the `cargo build --locked`
# of the build stage, the wheel extraction, and the rootfs assembly.
#
# The Dockerfile names three base images (rust, python, debian). Where they
# cannot be pulled (machines with package registries but no container
# registry), local stand-ins are made under the same names first, from
# Debian bookworm (debootstrap) plus, for rust, this machine's Rust
# toolchain at the version the Dockerfile pins, and, for python, Debian's
# python3 and pip. The Dockerfile is then built unchanged, with
# `--pull=never`, by buildah (vfs storage, chroot isolation: no daemon).
# The stand-ins carry this machine's CA bundle, so the build reaches the
# same package registries this machine does.
#
# The image is then run and checked by `ci/image-test.sh check`: under
# podman (runc) with a test model mounted read-only, ready, one inference
# over HTTP, its size printed, stopped with SIGTERM, exit 0 required.
#
# Needs: root, buildah, podman, runc, debootstrap, curl, a Rust toolchain
# of the pinned version (rustup), network access to deb.debian.org,
# crates.io and PyPI. Takes about 15 minutes on two cores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKERFILE="$ROOT/ci/Dockerfile"
IMAGE="localhost/model-server:dockerfile-test"
BUILDAH=(buildah --storage-driver vfs)

log() { printf 'dockerfile-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

arg() { sed -n "s/^ARG $1=//p" "$DOCKERFILE" | head -n 1; }
RUST_VERSION="$(arg RUST_VERSION)"
DEBIAN_RELEASE="$(arg DEBIAN_RELEASE)"
[[ -n "$RUST_VERSION" && -n "$DEBIAN_RELEASE" ]] || die "cannot read the ARGs of $DOCKERFILE"
DEBIAN_IMAGE="docker.io/library/debian:${DEBIAN_RELEASE}-slim"
RUST_IMAGE="docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE}"
PYTHON_IMAGE="docker.io/library/python:3.11-slim-${DEBIAN_RELEASE}"
for image in "$DEBIAN_IMAGE" "$RUST_IMAGE" "$PYTHON_IMAGE"; do
  grep -q "FROM ${image%%:*}:" "$DOCKERFILE" || die "$DOCKERFILE no longer uses ${image%%:*}"
done

WORK="$(mktemp -d /var/tmp/dockerfile-test.XXXXXX)"
# The stand-ins this run made; removed at the end (vfs storage keeps a full
# copy of every image) unless KEEP_STAND_INS=1 keeps them for the next run.
MADE=()
cleanup() {
  "${BUILDAH[@]}" rmi -f "$IMAGE" >/dev/null 2>&1 || true
  if [[ "${KEEP_STAND_INS:-0}" != 1 && ${#MADE[@]} -gt 0 ]]; then
    "${BUILDAH[@]}" rmi -f "${MADE[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

have_image() { "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# commit_stand_in and stand_in_debian (the Debian stand-in, made with
# debootstrap), shared with ci/e2e.sh.
# shellcheck source=ci/lib/stand-ins.sh
. "$ROOT/ci/lib/stand-ins.sh"

stand_in_rust() {
  local toolchain ctr
  toolchain="$(rustup run "$RUST_VERSION" rustc --print sysroot 2>/dev/null || true)"
  if [[ -z "$toolchain" ]]; then
    toolchain="$(rustc --print sysroot)"
    rustc --version | grep -q "^rustc ${RUST_VERSION}\." \
      || die "no Rust ${RUST_VERSION} toolchain here for the rust stand-in ($(rustc --version))"
  fi
  log "making a stand-in for $RUST_IMAGE from $toolchain"
  ctr="$("${BUILDAH[@]}" from --pull=never "$DEBIAN_IMAGE")"
  "${BUILDAH[@]}" run --isolation chroot "$ctr" -- sh -c \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null && rm -rf /var/lib/apt/lists/*'
  # The compiler and the standard library, without the documentation.
  tar -C "$toolchain" -cf "$WORK/rust.tar" bin lib libexec
  "${BUILDAH[@]}" run --isolation chroot "$ctr" -- mkdir -p /usr/local/rust
  "${BUILDAH[@]}" add "$ctr" "$WORK/rust.tar" /usr/local/rust >/dev/null
  "${BUILDAH[@]}" config --env CARGO_HOME=/usr/local/cargo \
    --env PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "$ctr"
  commit_stand_in "$ctr" "$RUST_IMAGE"
  rm -f "$WORK/rust.tar"
}

stand_in_python() {
  local ctr
  log "making a stand-in for $PYTHON_IMAGE from Debian's python3"
  ctr="$("${BUILDAH[@]}" from --pull=never "$DEBIAN_IMAGE")"
  "${BUILDAH[@]}" run --isolation chroot "$ctr" -- sh -c \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-pip python-is-python3 >/dev/null && rm -rf /var/lib/apt/lists/*'
  # pip trusts its own certifi bundle unless told otherwise.
  "${BUILDAH[@]}" config --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt "$ctr"
  commit_stand_in "$ctr" "$PYTHON_IMAGE"
}

for image in "$DEBIAN_IMAGE" "$RUST_IMAGE" "$PYTHON_IMAGE"; do
  if ! have_image "$image" && ! "${BUILDAH[@]}" pull --quiet "$image" >/dev/null 2>&1; then
    case "$image" in
      "$DEBIAN_IMAGE") stand_in_debian ;;
      "$RUST_IMAGE") have_image "$DEBIAN_IMAGE" || stand_in_debian; stand_in_rust ;;
      "$PYTHON_IMAGE") have_image "$DEBIAN_IMAGE" || stand_in_debian; stand_in_python ;;
    esac
  fi
done

log "building $DOCKERFILE"
started=$SECONDS
"${BUILDAH[@]}" bud --pull=never --isolation chroot --layers=false \
  -f "$DOCKERFILE" -t "$IMAGE" "$ROOT" >"$WORK/build.log" 2>&1 \
  || { tail -n 40 "$WORK/build.log"; die "the Dockerfile did not build"; }
log "built in $((SECONDS - started)) s"

# The runtime stage must be what image-test.sh proves: same user,
# environment and entrypoint.
config="$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.User}}|{{.OCIv1.Config.Entrypoint}}|{{.OCIv1.Config.Env}}' "$IMAGE")"
log "image config: $config"
[[ "$config" == 65532:65532\|\[/usr/local/bin/model-server\]\|* ]] || die "unexpected user or entrypoint: $config"
[[ "$config" == *ORT_DYLIB_PATH=/usr/local/lib/libonnxruntime.so* ]] || die "ORT_DYLIB_PATH is not set: $config"

"$ROOT/ci/image-test.sh" check "$IMAGE"

# EXPORT_BINARIES=DIR: leave the image's model-server and model-export in
# DIR, so the served tests can run the binaries the image ships instead of
# building their own.
if [[ -n "${EXPORT_BINARIES:-}" ]]; then
  mkdir -p "$EXPORT_BINARIES"
  ctr="$("${BUILDAH[@]}" from --pull=never "$IMAGE")"
  mnt="$("${BUILDAH[@]}" mount "$ctr")"
  install -m 0755 "$mnt/usr/local/bin/model-server" "$mnt/usr/local/bin/model-export" "$EXPORT_BINARIES/"
  "${BUILDAH[@]}" umount "$ctr" >/dev/null
  "${BUILDAH[@]}" rm "$ctr" >/dev/null
  log "left model-server and model-export in $EXPORT_BINARIES"
fi
