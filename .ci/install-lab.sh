#!/usr/bin/env bash
# Installs what lab/lab.ts needs: Dovecot (IMAP, LMTP, Sieve), Postfix, Courier authdaemon from apt, Chromium (the report's tests), and
# private extractions of courier-imap, Cyrus IMAP and Exim (they conflict with dovecot-imapd
# and postfix in apt).
# Idempotent; on Debian 12, as root (or through sudo, which it calls itself when needed).
set -euo pipefail

COURIER_ROOT=/var/cache/inboxguard-lab/courier-imap
PACKAGES=(
  dovecot-core dovecot-imapd dovecot-submissiond
  dovecot-lmtpd dovecot-sieve          # the mail flow: LMTP delivery into Maildir, Sieve fileinto
  postfix
  courier-base courier-authdaemon courier-authlib-userdb
  courier-authlib libcourier-unicode4 libgamin0 libgdbm6 libidn12 gamin  # courier-imap's dependencies
  openssl util-linux mount bsdutils    # openssl CLI; unshare; mount; script
  faketime                             # .ci/run moves the clock of a whole test run
  chromium                             # the fleet report is tested in a real browser (playwright-core drives it)
  # the libraries of the privately unpacked Cyrus IMAP, Exim and saslpasswd2 (found with ldd)
  libclamav12 libical3 libzephyr4 libxapian30 libsasl2-2 libsasl2-modules libsasl2-modules-db
  libwrap0 libjansson4 libicu72 libpq5 libgnutls-dane0 libdb5.3
)
# Unpacked with dpkg-deb -x, not installed: they conflict with dovecot-imapd and postfix in apt.
# Each: the directory, a file that shows it is there, the packages.
PRIVATE=(
  "/var/cache/inboxguard-lab/cyrus-imapd|usr/lib/cyrus/bin/master|cyrus-imapd cyrus-common"
  "/var/cache/inboxguard-lab/exim4|usr/sbin/exim4|exim4-base exim4-daemon-light"
  "/var/cache/inboxguard-lab/sasl2-bin|usr/sbin/saslpasswd2|sasl2-bin"
)

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo bash "$0" "$@"; fi
  echo "install-lab.sh: must run as root (and sudo is not installed)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

tmp=''
policy_added=no
cleanup() {
  [[ -n $tmp ]] && rm -rf "$tmp"
  [[ $policy_added == yes ]] && rm -f /usr/sbin/policy-rc.d
  return 0
}
trap cleanup EXIT

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

apt_updated=no
apt_update_once() {
  if [[ $apt_updated == no ]]; then
    apt-get update -q
    apt_updated=yes
  fi
}

if ((${#missing[@]})); then
  echo "install-lab.sh: installing ${missing[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # The lab runs its own instances: keep package scripts from starting system daemons.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_added=yes
  fi
  apt_update_once
  apt-get install -y -q "${missing[@]}"
else
  echo "install-lab.sh: apt packages already installed"
fi

if [[ -x $COURIER_ROOT/usr/bin/imapd && -x $COURIER_ROOT/usr/lib/courier/courier/imaplogin ]]; then
  echo "install-lab.sh: courier-imap already extracted in $COURIER_ROOT"
else
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || true   # lets apt download as its sandbox user
  # apt-get download fails when the package lists have never been fetched.
  (cd "$tmp" && apt-get download courier-imap) || { apt_update_once; (cd "$tmp" && apt-get download courier-imap); }
  dpkg-deb -x "$tmp"/courier-imap_*.deb "$tmp/root"
  mkdir -p "$(dirname "$COURIER_ROOT")"
  rm -rf "$COURIER_ROOT"
  mv "$tmp/root" "$COURIER_ROOT"
  echo "install-lab.sh: courier-imap extracted into $COURIER_ROOT"
fi

# Cyrus IMAP, Exim and saslpasswd2, unpacked like courier-imap.
for entry in "${PRIVATE[@]}"; do
  IFS='|' read -r root marker pkgs <<<"$entry"
  if [[ -x $root/$marker ]]; then
    echo "install-lab.sh: ${pkgs} already extracted in $root"
    continue
  fi
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || true
  # shellcheck disable=SC2086 # the package list is meant to split
  (cd "$tmp" && apt-get download $pkgs) || { apt_update_once; (cd "$tmp" && apt-get download $pkgs); }
  rm -rf "$root"
  mkdir -p "$root"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  rm -rf "$tmp"
  tmp=''
  echo "install-lab.sh: ${pkgs} extracted into $root"
done

# The users the Cyrus and Exim binaries are built to run as.
id cyrus >/dev/null 2>&1 || useradd --system --gid mail --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin cyrus
id Debian-exim >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin Debian-exim
