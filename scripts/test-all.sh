#!/usr/bin/env bash
# npm run test:all: installs what the tests need on Debian 12 (the lab's Dovecot, Postfix,
# Courier-IMAP, openssl, faketime), then runs every test. The lab's servers need root: as
# another user, both steps go through sudo. Arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-lab.sh
if [[ $(id -u) -eq 0 ]]; then exec npx vitest run "$@"; fi
exec sudo env "PATH=$PATH" "CI=${CI:-}" npx vitest run "$@"
