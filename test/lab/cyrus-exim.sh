#!/usr/bin/env bash
# Cyrus IMAP 3.6 + Exim 4.96 (Debian 12) lab, by hand, loopback only: not yet part of npm test
# (test/lab/lab.ts starts Dovecot, Postfix and Courier). Verified here on 2026-12-01: install,
# start, verify (17 checks), maxchild-test, maxlogins-test, tls13-test. Run as root; its
# subcommands are below (the script was first written as recipe.sh).
#
# Usage (as root):
#   recipe.sh install            # apt-get download + dpkg-deb -x, apt-get install libs, create users
#   recipe.sh certs [CERT KEY [CA]] # throwaway CA + server cert CN=mail.lab.test (or copy given PEMs)
#   recipe.sh start              # configure + start cyrus master and exim daemon (prints pids)
#   recipe.sh verify             # STARTTLS/IMAPS/LOGIN/LIST/NAMESPACE + SMTP STARTTLS/AUTH checks
#   recipe.sh maxchild-test      # restart cyrus with imap maxchild=3, show 4th conn gets no greeting
#   recipe.sh maxlogins-test     # restart cyrus with maxlogins_per_user: 1, 2nd concurrent LOGIN refused
#   recipe.sh tls13-test         # restart both TLS-1.3-only, check TLS1.2 refused / TLS1.3 accepted
#   recipe.sh stop               # kill the processes started by 'start'
#   recipe.sh all [CERT KEY [CA]] # install certs start verify (leaves daemons running)
#
# Environment overrides: CYRUS_IMAP_PORT CYRUS_IMAPS_PORT EXIM_SUB_PORT EXIM_SMTPS_PORT
#   TLS13_ONLY=1   -> cyrus "tls_versions: tls1_3", exim "tls_require_ciphers = NORMAL:-VERS-ALL:+VERS-TLS1.3"
#   IMAP_MAXCHILD=N  MAXLOGINS_PER_USER=N
set -euo pipefail

LAB=/tmp/cyrus-exim-lab
CACHE=/var/cache/inboxguard-lab
CYRUS_ROOT=$CACHE/cyrus-imapd          # cyrus-imapd + cyrus-common extracted here
EXIM_ROOT=$CACHE/exim4                 # exim4-base + exim4-daemon-light extracted here
SASL_ROOT=$CACHE/sasl2-bin             # sasl2-bin extracted here (saslpasswd2)
CYRUS_BIN=$CYRUS_ROOT/usr/lib/cyrus/bin
CYRUS_LIBS=$CYRUS_ROOT/usr/lib/x86_64-linux-gnu
EXIM_BIN=$EXIM_ROOT/usr/sbin/exim4

CYRUS_IMAP_PORT=${CYRUS_IMAP_PORT:-14143}
CYRUS_IMAPS_PORT=${CYRUS_IMAPS_PORT:-14993}
EXIM_SUB_PORT=${EXIM_SUB_PORT:-14587}
EXIM_SMTPS_PORT=${EXIM_SMTPS_PORT:-14465}
IMAP_MAXCHILD=${IMAP_MAXCHILD:-20}
MAXLOGINS_PER_USER=${MAXLOGINS_PER_USER:-0}
TLS13_ONLY=${TLS13_ONLY:-0}

LAB_USER=sales@lab.test
LAB_LOCAL=sales
LAB_DOMAIN=lab.test
LAB_PASS='Kq7f3c9e21-Zx4Wp8-Tm'

C=$LAB/cyrus
E=$LAB/exim
T=$LAB/tls
RUN=$LAB/run

log() { printf '[recipe] %s\n' "$*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }; }

# ---------------------------------------------------------------- install
do_install() {
  need_root
  mkdir -p "$CACHE/debs" "$LAB"
  # NOT installed through apt: conflicts with dovecot (imap-server) / postfix (mail-transport-agent)
  local dl=(cyrus-imapd cyrus-common exim4-base exim4-daemon-light sasl2-bin)
  local missing=()
  for p in "${dl[@]}"; do ls "$CACHE/debs/${p}"_*.deb >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get download ${missing[*]}"
    ( cd "$CACHE/debs" && { apt-get download "${missing[@]}" || { apt-get update && apt-get download "${missing[@]}"; }; } )
  fi
  [ -x "$CYRUS_BIN/master" ] || { mkdir -p "$CYRUS_ROOT"
      for p in cyrus-imapd cyrus-common; do dpkg-deb -x "$CACHE/debs/${p}"_*.deb "$CYRUS_ROOT"; done; }
  [ -x "$EXIM_BIN" ] || { mkdir -p "$EXIM_ROOT"
      for p in exim4-base exim4-daemon-light; do dpkg-deb -x "$CACHE/debs/${p}"_*.deb "$EXIM_ROOT"; done; }
  [ -x "$SASL_ROOT/usr/sbin/saslpasswd2" ] || { mkdir -p "$SASL_ROOT"; dpkg-deb -x "$CACHE/debs/sasl2-bin"_*.deb "$SASL_ROOT"; }
  # Non-conflicting shared libraries needed by the extracted binaries (found with ldd).
  # libsasl2-modules / libsasl2-modules-db (PLAIN/LOGIN + sasldb auxprop plugins) are needed too.
  local libs=(libclamav12 libical3 libzephyr4 libxapian30 libsasl2-2 libsasl2-modules libsasl2-modules-db
              libwrap0 libjansson4 libicu72 libpq5 libgnutls-dane0 libidn12 libdb5.3 openssl)
  local toinst=()
  for p in "${libs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || toinst+=("$p"); done
  if [ ${#toinst[@]} -gt 0 ]; then
    log "apt-get install ${toinst[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${toinst[@]}" \
      || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${toinst[@]}"; }
  fi
  # Users compiled into the binaries: cyrus (CYRUS_USER) and Debian-exim (EXIM_USER)
  id cyrus >/dev/null 2>&1 || useradd --system --gid mail --no-create-home --home-dir "$C" --shell /usr/sbin/nologin cyrus
  id Debian-exim >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir "$E" --shell /usr/sbin/nologin Debian-exim
  # sanity: nothing unresolved
  local bad
  bad=$(for b in "$CYRUS_BIN/master" "$CYRUS_BIN/imapd" "$CYRUS_BIN/ctl_cyrusdb" "$EXIM_BIN" "$SASL_ROOT/usr/sbin/saslpasswd2"; do
          LD_LIBRARY_PATH=$CYRUS_LIBS ldd "$b" | grep 'not found' || true; done)
  [ -z "$bad" ] || { echo "unresolved libs: $bad" >&2; exit 1; }
  log "install ok"
}

# ---------------------------------------------------------------- certs
do_certs() {
  need_root
  mkdir -p "$T"; chmod 755 "$LAB" "$T"
  if [ $# -ge 2 ]; then
    cp "$1" "$T/server.pem"; cp "$2" "$T/server.key"
    if [ $# -ge 3 ]; then cp "$3" "$T/ca.pem"; else rm -f "$T/ca.pem"; fi
    log "using given cert $1 / key $2 ${3:+/ CA $3}"
  elif [ ! -s "$T/server.pem" ] || [ ! -s "$T/server.key" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Lab Throwaway CA" \
      -keyout "$T/ca.key" -out "$T/ca.pem" -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=mail.lab.test" \
      -keyout "$T/server.key" -out "$T/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:mail.lab.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n' > "$T/server.ext"
    openssl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
      -days 30 -extfile "$T/server.ext" -out "$T/server.pem" 2>/dev/null
    log "made CA $T/ca.pem and server cert $T/server.pem (CN=mail.lab.test)"
  fi
  # per-daemon copies with the right owners (cyrus and exim read the key after dropping root)
  mkdir -p "$C/tls" "$E/tls"
  install -m 644 -o cyrus -g mail "$T/server.pem" "$C/tls/server.pem"
  install -m 600 -o cyrus -g mail "$T/server.key" "$C/tls/server.key"
  install -m 644 -o root -g Debian-exim "$T/server.pem" "$E/tls/server.pem"
  install -m 640 -o root -g Debian-exim "$T/server.key" "$E/tls/server.key"
}

# ---------------------------------------------------------------- cyrus
cyrus_config() {
  mkdir -p "$C"/{etc,config,config/socket,config/proc,config/lock,config/db,partition/default,sieve,run,log}
  local tlsv="tls1_2 tls1_3"; [ "$TLS13_ONLY" = 1 ] && tlsv="tls1_3"
  cat > "$C/etc/imapd.conf" <<EOF
configdirectory: $C/config
defaultpartition: default
partition-default: $C/partition/default
sievedir: $C/sieve
idlesocket: $C/config/socket/idle
lmtpsocket: $C/config/socket/lmtp
notifysocket: $C/config/socket/notify
servername: mail.lab.test
serverinfo: on
admins: cyrus
virtdomains: userid
altnamespace: yes
unixhierarchysep: yes
allowplaintext: no
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $C/sasldb2
sasl_mech_list: PLAIN LOGIN
tls_server_cert: $C/tls/server.pem
tls_server_key: $C/tls/server.key
tls_versions: $tlsv
autocreate_quota: 0
autocreate_inbox_folders: Sent
xlist-sent: Sent
maxlogins_per_user: $MAXLOGINS_PER_USER
syslog_prefix: cyruslab
EOF
  cat > "$C/etc/cyrus.conf" <<EOF
START {
  recover   cmd="$CYRUS_BIN/ctl_cyrusdb -C $C/etc/imapd.conf -r"
}
SERVICES {
  imap      cmd="$CYRUS_BIN/imapd -C $C/etc/imapd.conf"    listen="127.0.0.1:$CYRUS_IMAP_PORT"  prefork=0 maxchild=$IMAP_MAXCHILD
  imaps     cmd="$CYRUS_BIN/imapd -s -C $C/etc/imapd.conf" listen="127.0.0.1:$CYRUS_IMAPS_PORT" prefork=0 maxchild=$IMAP_MAXCHILD
}
EVENTS {
  checkpoint cmd="$CYRUS_BIN/ctl_cyrusdb -C $C/etc/imapd.conf -c" period=30
}
EOF
  # sasldb2 with user "sales" in realm "lab.test" (LOGIN sales@lab.test splits at '@')
  if [ ! -s "$C/sasldb2" ] || ! "$SASL_ROOT/usr/sbin/sasldblistusers2" -f "$C/sasldb2" 2>/dev/null | grep -q "^$LAB_LOCAL@$LAB_DOMAIN:"; then
    printf '%s' "$LAB_PASS" | "$SASL_ROOT/usr/sbin/saslpasswd2" -f "$C/sasldb2" -p -c -u "$LAB_DOMAIN" "$LAB_LOCAL"
  fi
  chown -R cyrus:mail "$C"; chmod 750 "$C"; chmod 640 "$C/sasldb2"
  chown root:root "$C/etc" "$C/etc/"*; chmod 755 "$C/etc"; chmod 644 "$C/etc/"*
}

cyrus_start() {
  cyrus_config
  if [ -s "$RUN/cyrus-master.pid" ] && kill -0 "$(cat "$RUN/cyrus-master.pid")" 2>/dev/null; then
    log "cyrus master already running pid $(cat "$RUN/cyrus-master.pid")"; return
  fi
  mkdir -p "$RUN"
  # master stays in the foreground without -d; we background it and track the pid.
  LD_LIBRARY_PATH=$CYRUS_LIBS setsid "$CYRUS_BIN/master" -C "$C/etc/imapd.conf" -M "$C/etc/cyrus.conf" \
      -p "$C/run/master.pid" -L "$C/log/master.log" </dev/null >>"$C/log/master.log" 2>&1 &
  echo $! > "$RUN/cyrus-master.pid"
  for i in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$CYRUS_IMAP_PORT) 2>/dev/null && break; sleep 0.2; done
  log "cyrus master started, pid $(cat "$RUN/cyrus-master.pid") (imap 127.0.0.1:$CYRUS_IMAP_PORT STARTTLS, imaps 127.0.0.1:$CYRUS_IMAPS_PORT)"
  cyrus_provision
}

# First LOGIN autocreates INBOX + Sent (autocreate_quota: 0, autocreate_inbox_folders: Sent) and
# xlist-sent marks Sent as "\sent" (lower case, from the option name); SETMETADATA rewrites it as "\Sent".
cyrus_provision() {
  local out
  out=$( { sleep 1; printf 'p1 LOGIN %s %s\r\n' "$LAB_USER" "$LAB_PASS"; sleep 0.7
           printf 'p2 SETMETADATA "Sent" (/private/specialuse "\\\\Sent")\r\n'; sleep 0.7
           printf 'p3 LOGOUT\r\n'; sleep 0.5; } |
         timeout 15 openssl s_client -connect 127.0.0.1:$CYRUS_IMAPS_PORT -quiet 2>/dev/null | tr -d '\r' || true)
  if grep -q '^p1 OK' <<<"$out" && grep -q '^p2 OK' <<<"$out"; then log "cyrus: $LAB_USER INBOX+Sent provisioned (\\Sent)"
  else log "cyrus provisioning FAILED:"; echo "$out" >&2; fi
}

# ---------------------------------------------------------------- exim
exim_config() {
  mkdir -p "$E"/{spool,log,mail,tls,run}
  local tlsopt='tls_require_ciphers = NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2'
  [ "$TLS13_ONLY" = 1 ] && tlsopt='tls_require_ciphers = NORMAL:-VERS-ALL:+VERS-TLS1.3'
  printf '%s: %s\n' "$LAB_USER" "$LAB_PASS" > "$E/passwd"
  chown root:Debian-exim "$E/passwd"; chmod 640 "$E/passwd"
  cat > "$E/exim.conf" <<EOF
# private lab config -- loopback only, never relays off-box
exim_path = $EXIM_BIN
primary_hostname = mail.lab.test
qualify_domain = lab.test
local_interfaces = 127.0.0.1
disable_ipv6 = true
daemon_smtp_ports = $EXIM_SUB_PORT : $EXIM_SMTPS_PORT
tls_on_connect_ports = $EXIM_SMTPS_PORT
spool_directory = $E/spool
log_file_path = $E/log/%slog
pid_file_path = $E/run/exim.pid
keep_environment =
host_lookup =
rfc1413_hosts =
never_users = root
tls_advertise_hosts = *
tls_certificate = $E/tls/server.pem
tls_privatekey = $E/tls/server.key
$tlsopt
auth_advertise_hosts = \${if eq{\$tls_in_cipher}{}{}{*}}
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data

begin acl
acl_check_rcpt:
  accept  authenticated = *
  deny    message = authentication required

acl_check_data:
  accept

begin routers
# every accepted message, whatever the recipient, goes into the lab maildir (no remote delivery)
lab_catchall:
  driver = accept
  transport = lab_maildir

begin transports
lab_maildir:
  driver = appendfile
  directory = $E/mail/Maildir
  maildir_format = true
  create_directory = true
  user = Debian-exim
  group = Debian-exim
  mode = 0640
  delivery_date_add
  envelope_to_add
  return_path_add

begin retry
*   *   F,1h,5m

begin authenticators
PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and{{!eq{\$auth3}{}}{eq{\$auth3}{\${lookup{\$auth2}lsearch{$E/passwd}{\$value}{}}}}}}
  server_set_id = \$auth2
  server_advertise_condition = \${if def:tls_in_cipher}

LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if and{{!eq{\$auth2}{}}{eq{\$auth2}{\${lookup{\$auth1}lsearch{$E/passwd}{\$value}{}}}}}}
  server_set_id = \$auth1
  server_advertise_condition = \${if def:tls_in_cipher}
EOF
  # exim insists: config owned by root (Configure owner: 0:0), not group/world writable
  chown root:root "$E/exim.conf"; chmod 644 "$E/exim.conf"
  chown -R Debian-exim:Debian-exim "$E/spool" "$E/log" "$E/mail"
  chown root:root "$E/run"; chmod 755 "$E" "$E/run"
  "$EXIM_BIN" -C "$E/exim.conf" -bV >/dev/null   # syntax check (exits non-zero on error)
}

exim_start() {
  exim_config
  if [ -s "$RUN/exim.pid" ] && kill -0 "$(cat "$RUN/exim.pid")" 2>/dev/null; then
    log "exim already running pid $(cat "$RUN/exim.pid")"; return
  fi
  mkdir -p "$RUN"
  # -bdf: daemon that stays in the foreground (we background it); no -q => no queue runner
  setsid "$EXIM_BIN" -C "$E/exim.conf" -bdf </dev/null >>"$E/log/daemon.out" 2>&1 &
  echo $! > "$RUN/exim.pid"
  for i in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$EXIM_SUB_PORT) 2>/dev/null && break; sleep 0.2; done
  log "exim started, pid $(cat "$RUN/exim.pid") (submission 127.0.0.1:$EXIM_SUB_PORT STARTTLS, smtps 127.0.0.1:$EXIM_SMTPS_PORT)"
}

# ---------------------------------------------------------------- stop
stop_pidfile() {
  local name=$1 f=$2 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name pid $pid"; kill -TERM "$pid"
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { log "$name pid $pid still alive, SIGKILL"; kill -KILL "$pid"; }
  fi
  rm -f "$f"
}
do_stop() {
  stop_pidfile "cyrus master" "$RUN/cyrus-master.pid"
  stop_pidfile exim "$RUN/exim.pid"
  # any leftover cyrus children of that master (same process group via setsid) are gone with SIGTERM to master;
  # double-check nothing still listens on our ports
  sleep 0.3
  ss -ltnp 2>/dev/null | grep -E "127.0.0.1:($CYRUS_IMAP_PORT|$CYRUS_IMAPS_PORT|$EXIM_SUB_PORT|$EXIM_SMTPS_PORT)\b" && log "WARNING: something still listening" || log "stopped"
}

# ---------------------------------------------------------------- verify
# with a CA file, s_client must verify the chain and the name mail.lab.test; without one, just connect
verify_opts() { if [ -s "$T/ca.pem" ]; then echo "-CAfile $T/ca.pem -verify_hostname mail.lab.test -verify_return_error"; fi; }
# imap_session HOST:PORT MODE(starttls|tls) COMMANDS...  -- feeds commands slowly to s_client
imap_session() {
  local port=$1 mode=$2; shift 2
  local extra=(); [ "$mode" = starttls ] && extra=(-starttls imap)
  { sleep 1; for c in "$@"; do printf '%s\r\n' "$c"; sleep 0.7; done; sleep 0.5; } |
    timeout 20 openssl s_client -connect 127.0.0.1:$port "${extra[@]}" $(verify_opts) -quiet 2>&1 || true
}
smtp_session() {
  local port=$1 mode=$2; shift 2
  local extra=(); [ "$mode" = starttls ] && extra=(-starttls smtp -name lab-client)
  { sleep 1; for c in "$@"; do printf '%s\r\n' "$c"; sleep 0.7; done; sleep 0.5; } |
    timeout 20 openssl s_client -connect 127.0.0.1:$port "${extra[@]}" $(verify_opts) -quiet 2>&1 || true
}
plain_exchange() {  # plaintext TCP: port, commands...
  local port=$1; shift
  exec 5<>/dev/tcp/127.0.0.1/$port
  { sleep 0.5; for c in "$@"; do printf '%s\r\n' "$c"; sleep 0.5; done; } >&5 &
  timeout $(( 2 + $# )) cat <&5 || true
  exec 5>&- 5<&-
}

do_verify() {
  local ok=0 fail=0
  check() { if grep -qE "$2" <<<"$3"; then echo "PASS: $1"; ok=$((ok+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
  echo "===== Cyrus pre-TLS (plain TCP to $CYRUS_IMAP_PORT) ====="
  local pre; pre=$(plain_exchange $CYRUS_IMAP_PORT "a CAPABILITY" "b LOGOUT" | tr -d '\r'); echo "$pre"
  check "cyrus greeting is Cyrus" '^\* OK .*Cyrus IMAP' "$pre"
  check "cyrus pre-TLS has STARTTLS + LOGINDISABLED" 'STARTTLS.*LOGINDISABLED|LOGINDISABLED.*STARTTLS' "$pre"
  echo "===== Cyrus STARTTLS (openssl s_client -starttls imap -connect 127.0.0.1:$CYRUS_IMAP_PORT) ====="
  local st; st=$(imap_session $CYRUS_IMAP_PORT starttls "a CAPABILITY" "b LOGIN $LAB_USER $LAB_PASS" "c CAPABILITY" \
        'd NAMESPACE' 'e LIST "" "*"' 'f LIST (SPECIAL-USE) "" "*"' 'g LOGOUT' | tr -d '\r'); echo "$st"
  [ -s "$T/ca.pem" ] && check "cyrus STARTTLS cert verified against lab CA" 'verify return:1' "$st"
  check "cyrus LOGIN over STARTTLS" '^b OK' "$st"
  check "cyrus LIST shows INBOX" '^\* LIST .* "?INBOX"?$' "$st"
  check "cyrus LIST shows Sent" '^\* LIST .* "?Sent"?$' "$st"
  check "cyrus Sent has \\Sent" 'LIST \(.*\\Sent.*\) .*Sent' "$st"
  echo "===== Cyrus implicit TLS (openssl s_client -connect 127.0.0.1:$CYRUS_IMAPS_PORT) ====="
  local it; it=$(imap_session $CYRUS_IMAPS_PORT tls "a CAPABILITY" "b LOGIN $LAB_USER $LAB_PASS" 'c LIST "" "*"' "d LOGOUT" | tr -d '\r'); echo "$it"
  check "cyrus IMAPS LOGIN" '^b OK' "$it"
  echo "===== Cyrus wrong password ====="
  local bad; bad=$(imap_session $CYRUS_IMAPS_PORT tls "b LOGIN $LAB_USER wrong" "d LOGOUT" | tr -d '\r'); echo "$bad" | grep -E '^b ' || true
  check "cyrus rejects wrong password" '^b NO' "$bad"

  local pplain; pplain=$(printf '\0%s\0%s' "$LAB_USER" "$LAB_PASS" | base64 -w0)
  echo "===== Exim pre-TLS (plain TCP to $EXIM_SUB_PORT) ====="
  local sp; sp=$(plain_exchange $EXIM_SUB_PORT "EHLO lab-client" "QUIT" | tr -d '\r'); echo "$sp"
  check "exim banner" '^220 .*Exim' "$sp"
  check "exim pre-TLS has STARTTLS" '^250-STARTTLS' "$sp"
  if grep -q AUTH <<<"$sp"; then echo "FAIL: exim advertises AUTH before TLS"; fail=$((fail+1)); else echo "PASS: no AUTH before TLS"; ok=$((ok+1)); fi
  echo "===== Exim STARTTLS (openssl s_client -starttls smtp -connect 127.0.0.1:$EXIM_SUB_PORT) ====="
  local ss_; ss_=$(smtp_session $EXIM_SUB_PORT starttls "EHLO lab-client" "AUTH PLAIN $pplain" \
        "MAIL FROM:<$LAB_USER>" "RCPT TO:<$LAB_USER>" "DATA" "Subject: lab test

hello from recipe
." "QUIT" | tr -d '\r'); echo "$ss_"
  check "exim post-TLS EHLO lists AUTH PLAIN LOGIN" '^250-AUTH PLAIN LOGIN' "$ss_"
  check "exim AUTH PLAIN ok" '^235 ' "$ss_"
  check "exim message accepted" '^250 OK id=' "$ss_"
  echo "===== Exim implicit TLS (openssl s_client -connect 127.0.0.1:$EXIM_SMTPS_PORT) ====="
  local u p; u=$(printf '%s' "$LAB_USER" | base64 -w0); p=$(printf '%s' "$LAB_PASS" | base64 -w0)
  local si; si=$(smtp_session $EXIM_SMTPS_PORT tls "EHLO lab-client" "AUTH LOGIN" "$u" "$p" "QUIT" | tr -d '\r'); echo "$si"
  check "exim SMTPS AUTH LOGIN ok" '^235 ' "$si"
  local sb; sb=$(smtp_session $EXIM_SMTPS_PORT tls "EHLO lab-client" "AUTH PLAIN $(printf '\0%s\0wrong' "$LAB_USER" | base64 -w0)" "QUIT" | tr -d '\r')
  check "exim rejects wrong password" '^535 ' "$sb"
  sleep 1
  echo "maildir: $(ls "$E/mail/Maildir/new" 2>/dev/null | wc -l) message(s) in $E/mail/Maildir/new"
  echo "$ok passed, $fail failed"
  [ "$fail" = 0 ]
}

do_maxchild_test() {
  # restart cyrus with maxchild=3 and open 4 TCP connections to the STARTTLS port
  stop_pidfile "cyrus master" "$RUN/cyrus-master.pid"; sleep 0.5
  IMAP_MAXCHILD=3 cyrus_start
  sleep 1
  local out=$LAB/run/maxchild; mkdir -p "$out"; rm -f "$out"/*
  local pids=() t0
  for i in 1 2 3 4; do
    # each client connects, sends nothing, and logs "<seconds after its connect> <first line>";
    # clients 1-3 then hold their connection open for 8 s in total; client 4 waits up to 14 s.
    ( t0=$EPOCHREALTIME; exec 3<>/dev/tcp/127.0.0.1/$CYRUS_IMAP_PORT
      if IFS= read -r -t 14 line <&3; then
        printf '%s %s\n' "$(awk -v a=$EPOCHREALTIME -v b=$t0 'BEGIN{printf "%.1f", a-b}')" "${line:0:70}" > "$out/conn$i"
      else echo "none no greeting in 14s" > "$out/conn$i"; fi
      [ $i -le 3 ] && sleep "$(awk -v a=$EPOCHREALTIME -v b=$t0 'BEGIN{r=8-(a-b); if(r<0)r=0; print r}')"
      exec 3>&- ) &
    pids+=($!)
    sleep 0.8
  done
  sleep 1
  ss -tn state established "( sport = :$CYRUS_IMAP_PORT )" 2>/dev/null | tail -n +2 | sed 's/^/  established: /'
  ps -o pid,args --ppid "$(cat "$RUN/cyrus-master.pid")" | sed 's/^/  child: /'
  wait "${pids[@]}"
  local ok=0 d
  for i in 1 2 3 4; do echo "conn$i: greeting after $(cat "$out/conn$i")"; done
  d4=$(cut -d' ' -f1 "$out/conn4")
  if awk -v a="$(cut -d' ' -f1 "$out/conn1")" -v b="$(cut -d' ' -f1 "$out/conn2")" -v c="$(cut -d' ' -f1 "$out/conn3")" -v d="$d4" \
       'BEGIN{exit !(a<1 && b<1 && c<1 && (d=="none" || d>=4))}'; then
    echo "PASS: with maxchild=3 the 4th connection got no greeting until one of the first 3 closed ($d4 s)"; ok=1
  else echo "FAIL: maxchild behaviour"; fi
  stop_pidfile "cyrus master" "$RUN/cyrus-master.pid"; sleep 0.5
  cyrus_start
  [ $ok = 1 ]
}

do_maxlogins_test() {  # restart cyrus with maxlogins_per_user: 1; a 2nd concurrent LOGIN must be refused
  stop_pidfile "cyrus master" "$RUN/cyrus-master.pid"; sleep 0.5
  MAXLOGINS_PER_USER=1 cyrus_start
  local f=$RUN/maxlogins.first; : > "$f"
  ( { sleep 1; printf 'a LOGIN %s %s\r\n' "$LAB_USER" "$LAB_PASS"; sleep 5; printf 'z LOGOUT\r\n'; sleep 0.5; } |
      timeout 12 openssl s_client -connect 127.0.0.1:$CYRUS_IMAPS_PORT -quiet 2>/dev/null | tr -d '\r' | grep -E '^(a|z) ' | cut -c1-50 > "$f" || true ) &
  local holder=$!
  sleep 3
  local second; second=$(imap_session $CYRUS_IMAP_PORT starttls "b LOGIN $LAB_USER $LAB_PASS" "y LOGOUT" | tr -d '\r' | grep -E '^(b|y) ')
  wait $holder
  echo "first : $(tr '\n' '|' < "$f")"; echo "second: $(tr '\n' '|' <<<"$second")"
  local ok=0
  grep -q '^a OK' "$f" && grep -q '^b NO' <<<"$second" && { echo "PASS: maxlogins_per_user=1 refuses a 2nd concurrent login"; ok=1; } || echo "FAIL: maxlogins_per_user"
  stop_pidfile "cyrus master" "$RUN/cyrus-master.pid"; sleep 0.5
  cyrus_start
  [ $ok = 1 ]
}

do_tls13_test() {  # restart both with TLS13_ONLY=1; TLS1.2 handshakes must fail, TLS1.3 succeed
  do_stop; TLS13_ONLY=1 cyrus_start; TLS13_ONLY=1 exim_start
  local ok=0 fail=0 r
  for spec in "$CYRUS_IMAPS_PORT:" "$CYRUS_IMAP_PORT:imap" "$EXIM_SMTPS_PORT:" "$EXIM_SUB_PORT:smtp"; do
    local port=${spec%%:*} st=${spec#*:} extra=()
    [ -n "$st" ] && extra=(-starttls "$st")
    for v in tls1_2 tls1_3; do
      r=$(echo | timeout 8 openssl s_client -connect 127.0.0.1:$port "${extra[@]}" -$v 2>&1 | grep -oE 'New, [^,]+' | head -1 || true)
      echo "port $port ${st:-implicit} -$v: ${r:-handshake failed}"
      if { [ $v = tls1_2 ] && [ "$r" = "New, (NONE)" ]; } || { [ $v = tls1_3 ] && [ "$r" = "New, TLSv1.3" ]; }; then ok=$((ok+1)); else fail=$((fail+1)); fi
    done
  done
  echo "tls13-only: $ok passed, $fail failed"
  do_stop; cyrus_start; exim_start
  [ $fail = 0 ]
}

cmd=${1:-all}; shift || true
case $cmd in
  install) do_install ;;
  certs) do_certs "$@" ;;
  start) need_root; [ -s "$C/tls/server.pem" ] || do_certs; cyrus_start; exim_start ;;
  stop) do_stop ;;
  verify) do_verify ;;
  maxchild-test) need_root; do_maxchild_test ;;
  maxlogins-test) need_root; do_maxlogins_test ;;
  tls13-test) need_root; do_tls13_test ;;
  all) do_install; do_certs "$@"; cyrus_start; exim_start; do_verify ;;
  *) sed -n 2,17p "$0"; exit 2 ;;
esac
