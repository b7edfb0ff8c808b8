#!/usr/bin/env bash
# Installs Debian packages PKG... with apt, as root or through sudo; nothing when none is named.
# The scripts that need tools a fresh machine lacks call it with the missing ones.
#
#   scripts/apt-install.sh wrk etcd-server
set -euo pipefail
[ $# -gt 0 ] || exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
