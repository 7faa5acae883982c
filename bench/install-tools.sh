#!/usr/bin/env bash
# Installs the comparison tools for `npm run bench` from Debian packages (as root; idempotent):
#   check_ssl_cert  monitoring-plugins-contrib  /usr/lib/nagios/plugins/check_ssl_cert (2.60 on Debian 12)
#   testssl.sh      testssl.sh                  /usr/bin/testssl (3.0.8 on Debian 12)
# Both are shell scripts over the openssl CLI; recommends are skipped. About 40 s on a fresh machine.
set -euo pipefail

have() { [ -x /usr/lib/nagios/plugins/check_ssl_cert ] && [ -x /usr/bin/testssl ]; }

if ! have; then
  if [ "$(id -u)" != 0 ]; then
    echo "run as root: sudo bash bench/install-tools.sh" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends monitoring-plugins-contrib testssl.sh openssl bc file curl util-linux >/dev/null
  have || { echo "bench tools still missing after the install" >&2; exit 1; }
fi
echo "check_ssl_cert $(/usr/lib/nagios/plugins/check_ssl_cert --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1), testssl $(/usr/bin/testssl --version 2>/dev/null | grep -o 'testssl *[0-9][0-9.]*' | grep -o '[0-9][0-9.]*' | head -1)"
