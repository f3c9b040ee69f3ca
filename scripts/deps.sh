#!/bin/sh
# Install the Debian packages danemx needs, only those missing.
# Runs 'apt-get update' first when a package is not known to apt yet.
# Usage: scripts/deps.sh [build|all]   (build: to compile and unit-test; all: also the peers)
set -eu
# nettle-dev: libunbound.pc names hogweed and nettle (Requires.private), but libunbound-dev
# does not depend on nettle-dev, so pkg-config fails on a fresh machine without it.
BUILD="cmake make gcc pkg-config libssl-dev libunbound-dev nettle-dev libldns-dev libevent-dev libcmocka-dev dns-root-data openssl ca-certificates libidn2-dev"
PEERS="clang-tidy unbound postfix swaks ldnsutils gnutls-bin hash-slinger iproute2 procps libnet-ssleay-perl python3"
case "${1:-all}" in
  build) want="$BUILD" ;;
  all) want="$BUILD $PEERS" ;;
  *) echo "usage: $0 [build|all]" >&2; exit 64 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "danemx: missing Debian packages:$missing (run 'make deps' as root)" >&2
  exit 69
fi
need_update=0
for p in $missing; do
  cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/{print $2}')
  if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; fi
done
export DEBIAN_FRONTEND=noninteractive
[ "$need_update" -eq 1 ] && apt-get update -q
# postfix must not ask questions nor configure a system MTA: tests run throwaway instances.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "danemx: installing$missing" >&2
apt-get install -y -q --no-install-recommends $missing
