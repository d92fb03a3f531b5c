# Sourced by ci/dockerfile-test.sh and ci/e2e.sh: local stand-ins for base
# images that cannot be pulled (machines with package registries but no
# container registry), made from Debian with debootstrap.
#
# The caller sets: BUILDAH (the buildah command with its storage options),
# WORK (a scratch directory), DEBIAN_IMAGE and DEBIAN_RELEASE, and an array
# MADE, to which each stand-in made is added (the caller removes them), and
# defines log and die.

# commit_stand_in CTR NAME: puts this machine's CA bundle into CTR (last,
# since installing Debian's ca-certificates rewrites it) and commits it as NAME.
commit_stand_in() {
  "${BUILDAH[@]}" copy "$1" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
  "${BUILDAH[@]}" commit --quiet "$1" "$2" >/dev/null
  "${BUILDAH[@]}" rm "$1" >/dev/null
  MADE+=("$2")
}

stand_in_debian() {
  local rootfs="$WORK/rootfs" ctr
  log "making a stand-in for $DEBIAN_IMAGE with debootstrap"
  debootstrap --variant=minbase "$DEBIAN_RELEASE" "$rootfs" http://deb.debian.org/debian \
    >"$WORK/debootstrap.log" 2>&1 || { tail -n 20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
  rm -rf "$rootfs"/dev/* "$rootfs"/var/cache/apt/archives/*.deb
  ctr="$("${BUILDAH[@]}" from scratch)"
  tar -C "$rootfs" -cf "$WORK/rootfs.tar" .
  "${BUILDAH[@]}" add "$ctr" "$WORK/rootfs.tar" / >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash "$ctr"
  commit_stand_in "$ctr" "$DEBIAN_IMAGE"
  rm -rf "$rootfs" "$WORK/rootfs.tar"
}

