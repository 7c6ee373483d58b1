# Sourced by the build/prereqs.d/*.sh scripts that call apt-get; not run on its own (build/test.sh runs *.sh only).
# On a fresh machine another apt/dpkg process (unattended-upgrades, cloud-init, a second prerequisite run) often holds
# the package locks for a while: wait for them instead of failing at once.
#  - apt_get: apt-get with DPkg::Lock::Timeout, so `install` waits for the dpkg (frontend) lock.
#  - apt_get_update: `apt-get update` also gets DPkg::Lock::Timeout, but the lock it takes, /var/lib/apt/lists/lock, is
#    not covered by that option (apt 2.6 still fails at once there), so it retries while "Could not get lock" is the
#    reason, for as long.
# APT_LOCK_TIMEOUT (seconds, default 600) changes how long both wait.
APT_LOCK_TIMEOUT=${APT_LOCK_TIMEOUT:-600}

apt_get() {
  apt-get -o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT" "$@"
}

apt_get_update() {
  local deadline=$((SECONDS + APT_LOCK_TIMEOUT)) out said=
  while :; do
    if out=$(apt_get update "$@" 2>&1); then return 0; fi
    if [[ $out == *"Could not get lock"* ]] && ((SECONDS < deadline)); then
      [ -n "$said" ] || echo "apt-get update: another apt process holds the lists lock; waiting up to ${APT_LOCK_TIMEOUT}s" >&2
      said=1
      sleep 5
      continue
    fi
    printf '%s\n' "$out" >&2
    return 1
  done
}
