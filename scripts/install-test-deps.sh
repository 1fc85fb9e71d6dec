#!/usr/bin/env bash
# Install what the tests drive from Debian: real clients (skopeo, podman, buildah, containerd's
# ctr), wrk for the benchmark, and the tools the scan tests build fixtures with (go, rpm,
# db5.3_load, zip, zstd), CNCF Distribution (docker-registry) as a peer registry, chromium for
# the web UI tests, and OpenLDAP's slapd and ldap-utils (the LDAP tests start their own slapd on
# loopback; the Debian service itself is never used). Quiet when everything is there already.
set -euo pipefail
need=()
command -v skopeo >/dev/null || need+=(skopeo)
command -v podman >/dev/null || need+=(podman)
command -v buildah >/dev/null || need+=(buildah)
command -v ctr >/dev/null || need+=(containerd)
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v openssl >/dev/null || need+=(openssl)
# The rolling-upgrade test builds the previous release from this clone's history.
command -v git >/dev/null || need+=(git)
command -v go >/dev/null || need+=(golang-go)
command -v rpmbuild >/dev/null || need+=(rpm)
command -v db5.3_load >/dev/null || need+=(db5.3-util)
command -v zip >/dev/null || need+=(zip)
command -v zstd >/dev/null || need+=(zstd)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v docker-registry >/dev/null || need+=(docker-registry)
[ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapsearch >/dev/null || need+=(ldap-utils)
# Often missing from minimal images: ps (the backend-faults test finds PostgreSQL's backends),
# mount (the disk-full test's tmpfs), unshare (network namespaces of the secure-defaults test).
command -v ps >/dev/null || need+=(procps)
command -v mount >/dev/null || need+=(mount)
command -v unshare >/dev/null || need+=(util-linux)

# Every tool a test needs must be there afterwards: a test that skips because its tool is
# missing would let CI pass without it, so a failed install fails the test command instead.
verify() {
  local missing=()
  for tool in skopeo podman buildah ctr wrk openssl git go rpmbuild db5.3_load zip zstd docker-registry ldapsearch ps mount unshare; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/sbin/slapd ] || missing+=(slapd)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "install-test-deps: still missing after install: ${missing[*]}" >&2
    exit 1
  fi
}

if [ ${#need[@]} -eq 0 ]; then verify; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing ${need[*]}; installing needs root (apt-get install ${need[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=${TMPDIR:-/tmp}/registry-apt.log
opts=(-o DPkg::Lock::Timeout=900 -o Acquire::Retries=3 -y -q --no-install-recommends)
echo "install-test-deps: installing ${need[*]} from Debian (log: $log)" >&2
if ! apt-get "${opts[@]}" install "${need[@]}" >>"$log" 2>&1; then
  apt-get -o Acquire::Retries=3 -q update >>"$log" 2>&1
  apt-get "${opts[@]}" install "${need[@]}" >>"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }
fi
verify
