#!/bin/sh
# Install the Debian 12 packages Bulwark needs to build, run and test.
# Idempotent and quick when everything is present: installs only what is
# missing. Runs apt-get as root, or through sudo.
set -eu
# What an installed bulwarkd needs at run time: wamerican is the system
# word list (/usr/share/dict/words) of the password dictionary rule;
# without it bulwarkd runs degraded (status shows it, the log says so).
# asterisk-core-sounds-en-wav (CC BY-SA) is the media endpoint's prompts,
# 8 kHz 16-bit WAVs under /usr/share/asterisk/sounds/en_US_f_Allison/
# (docs/internals/endpoint.md); librem0 its G.711 and DTMF detector.
# asterisk-moh-opsound-wav (CC BY-SA) is the music on hold's class
# "default", 8 kHz WAVs under /usr/share/asterisk/moh (docs/admin/calls.md).
RUN="libre0 librem0 asterisk-core-sounds-en-wav asterisk-moh-opsound-wav
 libsqlite3-0 libmicrohttpd12
 libjansson4 libsodium23 libssl3 libnftables1 nftables libcurl4 liburing2
 wamerican iproute2"
BUILD="$RUN build-essential meson ninja-build pkg-config libre-dev librem-dev
 libsqlite3-dev sqlite3 libmicrohttpd-dev libjansson-dev libsodium-dev
 libssl-dev libnftables-dev libcmocka-dev libcurl4-openssl-dev liburing-dev"
# asterisk-core-sounds-fr-wav: a second prompt set (fr_CA_f_June beside
# en_US_f_Allison) for the tests of user.language; an installation adds
# the -<ll>-wav packages of the languages its users speak.
# openssl (the command): test_tls.py's s_client probes; kamailio-tls-modules:
# the TLS registration bench beside Kamailio's tls.so (bench/).
TEST="python3 python3-pytest clang clang-tools libclang-rt-14-dev sip-tester baresip-core
 linphone-cli sipvicious kamailio kamailio-tls-modules openssl chromium python3-aiosmtpd
 asterisk-core-sounds-fr-wav"
case "${1:-all}" in
	run) want="$RUN" ;;
	build) want="$BUILD" ;;
	*) want="$BUILD $TEST" ;;
esac
missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
# Node.js and npm run the browser tests' driver (playwright-core, from npm
# by tests/gui/package-lock.json; it works with Debian 12's nodejs 18 and
# npm 9). Debian's packages, unless a node and an npm are on PATH already
# (NodeSource's nodejs bundles npm and conflicts with Debian's npm).
case "${1:-all}" in
	run|build) ;;
	*)
		command -v node >/dev/null 2>&1 || missing="$missing nodejs"
		command -v npm >/dev/null 2>&1 || missing="$missing npm"
		;;
esac
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
