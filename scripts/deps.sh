#!/bin/sh
# Install the Debian 12 packages Bulwark needs to build, run and test.
# Idempotent and quick when everything is present: installs only what is
# missing. Runs apt-get as root, or through sudo.
set -eu
BUILD="build-essential meson ninja-build pkg-config libre-dev librem-dev
 libsqlite3-dev sqlite3 libmicrohttpd-dev libjansson-dev libsodium-dev
 libssl-dev libnftables-dev nftables libcmocka-dev libcurl4-openssl-dev
 wamerican iproute2"
TEST="python3 python3-pytest clang clang-tools libclang-rt-14-dev sip-tester baresip-core
 linphone-cli sipvicious kamailio"
case "${1:-all}" in
	build) want="$BUILD" ;;
	*) want="$BUILD $TEST" ;;
esac
missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
