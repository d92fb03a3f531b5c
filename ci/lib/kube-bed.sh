# Sourced by ci/real-cluster.sh and ci/e2e.sh: finds a kube-bed and starts a
# throw-away one on free ports, with a state directory of its own.
#
#   bed_find                 sets BED to the kube-bed folder ($KUBE_BED, else
#                            ../shared/kube-bed beside the checkout); returns 1
#                            when there is none, exits 1 when KUBE_BED names a
#                            folder without start.sh
#   bed_start STATE_DIR      starts it (KUBE_BED_STATE=STATE_DIR) on free ports
#                            (KUBE_BED_*_PORT variables already set are kept),
#                            exports KUBE_BED_STATE and KUBECONFIG; exits 1 when
#                            it does not start
#   bed_stop                 stops the bed of KUBE_BED_STATE (and its node, if
#                            one was added); nothing when it is unset
#
# Ports are drawn below the kernel's ephemeral range, so that no outgoing
# connection (etcd's own clients included) holds one the bed is about to
# bind; a port taken between the check and the bind starts the bed again on
# other ports, twice at most.

bed_find() {
  if [ -n "${KUBE_BED:-}" ]; then
    if [ ! -f "$KUBE_BED/start.sh" ]; then
      echo "KUBE_BED=$KUBE_BED has no start.sh" >&2
      exit 1
    fi
    BED="$(cd "$KUBE_BED" && pwd)"
  elif [ -f "$ROOT/../shared/kube-bed/start.sh" ]; then
    BED="$(cd "$ROOT/../shared/kube-bed" && pwd)"
  else
    return 1
  fi
}

_bed_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# _bed_pick_ports VAR…: a free port for each VAR not set by the caller.
_bed_pick_ports() {
  local low taken=" " v p
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  [ "$low" -gt 12000 ] || low=32768
  for v in "$@"; do
    if [[ $_bed_given != *" $v "* ]]; then
      for _ in $(seq 200); do
        p=$(( 10000 + RANDOM % (low - 10000) ))
        [[ $taken == *" $p "* ]] || _bed_port_busy "$p" || break
      done
      export "$v=$p"
    fi
    taken+="${!v} "
  done
}

_bed_ports=(KUBE_BED_API_PORT KUBE_BED_ETCD_PORT KUBE_BED_ETCD_PEER_PORT KUBE_BED_KCM_PORT
  KUBE_BED_KUBELET_PORT KUBE_BED_SCHED_PORT)

bed_start() {
  local attempt exports v
  export KUBE_BED_STATE="$1"
  _bed_given=" "
  for v in "${_bed_ports[@]}"; do
    [ -z "${!v:-}" ] || _bed_given+="$v "
  done
  for attempt in 1 2 3; do
    _bed_pick_ports "${_bed_ports[@]}"
    if exports="$("$BED/start.sh")"; then
      break
    fi
    if [ "$attempt" = 3 ] || ! grep -qs "address already in use" "$KUBE_BED_STATE"/logs/*.log; then
      echo "the kube-bed did not start (logs in $KUBE_BED_STATE/logs)" >&2
      exit 1
    fi
    echo "a port was taken; starting the kube-bed again on other ports" >&2
    rm -f "$KUBE_BED_STATE"/logs/*.log
  done
  eval "$exports"
  export KUBECONFIG
}

bed_stop() {
  [ -n "${KUBE_BED_STATE:-}" ] || return 0
  "$BED/stop.sh" >/dev/null 2>&1
}
