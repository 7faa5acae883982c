import type { Software } from './types.js';

/**
 * What to change, for the mail administrator: one entry per failure mode, keyed by
 * requirement (without the protocol prefix) and variant. `text` says what is wrong and what
 * to do in any server; `by` gives the setting for each server software inboxguard can name,
 * and `generic` the advice for any other, labelled as generic. Entries without `by` (the
 * network, the account) read the same whatever the server runs.
 */
export interface Remedy {
  text: string;
  by?: Partial<Record<Family, string>>;
  generic?: string;
}

/** The software whose settings a remedy can name (a mail proxy in front counts as its own). */
export type Family = 'Dovecot' | 'Postfix' | 'Courier' | 'Cyrus' | 'Exim' | 'OpenSMTPD' | 'nginx' | 'Exchange' | 'Zimbra';

const FAMILY: Partial<Record<Software, Family>> = {
  Dovecot: 'Dovecot',
  Postfix: 'Postfix',
  'Courier-IMAP': 'Courier',
  Cyrus: 'Cyrus',
  Exim: 'Exim',
  OpenSMTPD: 'OpenSMTPD',
  nginx: 'nginx',
  Exchange: 'Exchange',
  Zimbra: 'Zimbra',
};

/** Accept TLS 1.2 (and newer), per server. */
const TLS12 = {
  Dovecot: 'ssl_min_protocol = TLSv1.2 (dovecot.conf, then doveadm reload)',
  Postfix:
    'smtpd_tls_protocols = >=TLSv1.2 and smtpd_tls_mandatory_protocols = >=TLSv1.2 (main.cf or the submission service in master.cf, then postfix reload)',
  Courier: 'TLS_PRIORITY including +VERS-TLS1.2 (imapd-ssl; or TLS_PROTOCOL for an OpenSSL build)',
  Cyrus: 'tls_versions: tls1_2 tls1_3 (imapd.conf, then restart cyrus)',
  Exim: 'with OpenSSL, openssl_options without +no_tlsv1_2; with GnuTLS, tls_require_ciphers = a priority string that keeps +VERS-TLS1.2 (then restart exim)',
  OpenSMTPD: 'protocols "tlsv1.2,tlsv1.3" on the listen line (smtpd.conf)',
  nginx: 'ssl_protocols TLSv1.2 TLSv1.3; in the mail { server { } } block that fronts this port',
  Exchange:
    'enable TLS 1.2 for SCHANNEL Server (HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server, Enabled = 1), then restart',
  Zimbra:
    'zmprov mcf zimbraReverseProxySSLProtocols TLSv1.2 TLSv1.3 (proxy) and zimbraMtaSmtpdTlsProtocols ">=TLSv1.2" (MTA), then zmcontrol restart',
} satisfies Partial<Record<Family, string>>;

/** Install a certificate (with its chain) for the host, per server. */
const CERTIFICATE = {
  Dovecot: 'ssl_cert = </path/fullchain.pem and ssl_key = </path/privkey.pem, then doveadm reload',
  Postfix:
    'smtpd_tls_chain_files = /path/privkey.pem, /path/fullchain.pem (or smtpd_tls_cert_file and smtpd_tls_key_file), then postfix reload',
  Courier: 'TLS_CERTFILE = one PEM file with the key, the certificate and its intermediates (imapd-ssl), then restart courier-imap-ssl',
  Cyrus: 'tls_server_cert: /path/fullchain.pem and tls_server_key: /path/privkey.pem (imapd.conf), then restart cyrus',
  Exim: 'tls_certificate = /path/fullchain.pem and tls_privatekey = /path/privkey.pem, then restart exim',
  OpenSMTPD: 'pki HOST cert "/path/fullchain.pem" and pki HOST key "/path/privkey.pem", used by the listen line (smtpd.conf)',
  nginx: 'ssl_certificate /path/fullchain.pem; and ssl_certificate_key /path/privkey.pem; in the mail block, then nginx -s reload',
  Exchange:
    'Import-ExchangeCertificate, then Enable-ExchangeCertificate -Services IMAP,SMTP and Set-ImapSettings -X509CertificateName HOST; restart the IMAP4 services',
  Zimbra: 'zmcertmgr deploycrt comm /path/cert.pem /path/chain.pem, then zmcontrol restart',
} satisfies Partial<Record<Family, string>>;

const GENERIC_CERTIFICATE =
  'install the certificate and the private key where the mail service reads them, serve the full chain (the certificate, then its intermediates), and restart or reload the service';

export const REMEDIES = {
  'connect.dns': {
    text: 'Publish an A (or AAAA) record for this host name in public DNS, or correct the host name registered for the inbox. HubSpot connects by name.',
  },
  'connect.refused': {
    text: 'Nothing accepts connections on this port. Start the IMAP/SMTP service on it (or register the port it really listens on) and make sure the firewall forwards it.',
  },
  'connect.timeout': {
    text: "The connection was silently dropped: most often a firewall that does not allow this monitor's (and HubSpot's) fixed IP addresses. Add the egress addresses to the allow-list for this port.",
  },
  'connect.reset': {
    text: 'The connection was reset as it opened: a firewall, IPS or the server itself rejects this source address. Allow-list the egress addresses for this port.',
  },
  'connect.private': {
    text: "The host name resolves to a private, loopback or otherwise non-public address, which HubSpot cannot reach from the internet (and which the monitor will not probe). Publish the server's public address in public DNS, or correct the host name. If the monitor is meant to reach it on a private network, register the server with allowPrivateAddress.",
  },
  'connect.other': {
    text: 'The port could not be reached. Check that the service runs, that the port is open to the internet, and that the egress addresses are allow-listed.',
  },
  'tls.plaintext': {
    text: 'Offer encryption on this port, or register the implicit-TLS port instead (IMAP 993, SMTP 465).',
    by: {
      Dovecot: 'ssl = yes with ssl_cert and ssl_key (dovecot.conf)',
      Postfix: 'smtpd_tls_security_level = may (or encrypt on submission) with a certificate',
      Courier: 'IMAP_STARTTLS=YES with TLS_CERTFILE (imapd-ssl)',
      Cyrus: 'set tls_server_cert and tls_server_key (imapd.conf): Cyrus offers STARTTLS once TLS is configured',
      Exim: 'tls_advertise_hosts = * with tls_certificate and tls_privatekey',
      OpenSMTPD: 'listen on ... tls pki HOST (smtpd.conf)',
      nginx: 'starttls on; (or only; with ssl_certificate) in the mail server block',
      Exchange:
        'assign a certificate to IMAP and SMTP (Enable-ExchangeCertificate -Services IMAP,SMTP) and Set-ImapSettings -LoginType SecureLogin',
    },
    generic: 'enable STARTTLS on the service with a certificate for the host name',
  },
  'tls.failed': {
    text: 'The TLS handshake did not complete. Check that the certificate and private key are installed and readable by the service, and that the port serves TLS as registered (implicit TLS on 993/465, STARTTLS on 143/587).',
    by: CERTIFICATE,
    generic: GENERIC_CERTIFICATE,
  },
  'tls.injection': {
    text: 'Whatever answers this port wrote data between its STARTTLS go-ahead and the TLS handshake: the response-injection flaw of CVE-2011-0411 and its kin, or a proxy or firewall that rewrites the session. Update the mail server software, and check any STARTTLS-terminating proxy or firewall in front of it. inboxguard sends no credentials over such a session.',
  },
  'tls-version.tls13only': {
    text: 'HubSpot connects with TLS 1.0, 1.1 or 1.2 and cannot use a TLS-1.3-only server. Accept TLS 1.2 again.',
    by: TLS12,
    generic: 'lower the minimum TLS version of the IMAP and SMTP services to TLS 1.2, keeping TLS 1.3',
  },
  'tls-version.none': {
    text: 'No TLS version could be negotiated. Enable TLS 1.2, and check the certificate and the cipher configuration.',
    by: TLS12,
    generic: 'enable TLS 1.2 on the service and check its certificate and cipher list',
  },
  'tls-version.weak': {
    text: 'Only TLS 1.0/1.1 are accepted. HubSpot still connects, but these versions are deprecated: enable TLS 1.2 (with a current TLS library).',
    by: TLS12,
    generic: 'enable TLS 1.2 on the service (a current OpenSSL or GnuTLS is needed)',
  },
  'tls-version.policy': {
    text: 'Only TLS 1.0/1.1 are accepted, and this profile requires TLS 1.2 or newer (HubSpot itself would still connect). Enable TLS 1.2 (with a current TLS library).',
    by: TLS12,
    generic: 'enable TLS 1.2 on the service (a current OpenSSL or GnuTLS is needed)',
  },
  'cert-name.mismatch': {
    text: 'Install a certificate whose subject Common Name (CN) is exactly the host name HubSpot connects to (or a wildcard for its domain). HubSpot checks the CN, not only the subjectAltName: when requesting the certificate, set CN to this host name and list it as a SAN too.',
    by: CERTIFICATE,
    generic: GENERIC_CERTIFICATE,
  },
  'cert-name.no-san': {
    text: 'The CN matches but no subjectAltName does, and modern clients ignore the CN. Reissue the certificate with the host name in the subjectAltName as well as the CN.',
    by: CERTIFICATE,
    generic: GENERIC_CERTIFICATE,
  },
  'cert-trust.untrusted': {
    text: 'The certificate does not chain to a public root. Install a certificate from a public CA (for example Let\'s Encrypt) and serve the full chain (leaf then intermediates). Otherwise every HubSpot user must tick "allow non-secure certificate" when connecting, and this server must be registered with allowInsecureCertificate.',
    by: CERTIFICATE,
    generic: GENERIC_CERTIFICATE,
  },
  'cert-trust.allowed': {
    text: 'The certificate does not chain to a public root; it is accepted only because the server is registered with allowInsecureCertificate. Replace it with a publicly trusted certificate when you can.',
    by: CERTIFICATE,
    generic: GENERIC_CERTIFICATE,
  },
  'cert-expiry.expired': {
    text: 'The certificate has expired (or is not valid yet): renew it and reload the service. Automate renewal (certbot, acme.sh) and reload the mail services after each renewal.',
    by: CERTIFICATE,
    generic: GENERIC_CERTIFICATE,
  },
  'cert-expiry.soon': {
    text: 'The certificate expires soon: renew it now and reload the service, and check that automatic renewal reloads the mail services too.',
    by: CERTIFICATE,
    generic: GENERIC_CERTIFICATE,
  },
  'login.credentials': {
    text: 'The server rejected the registered user name and password. Check the password, that the account is not locked or disabled, and that it may log in over IMAP.',
  },
  'login.logindisabled': {
    text: 'The server refuses LOGIN even after TLS (LOGINDISABLED). Allow plaintext authentication over TLS.',
    by: {
      Dovecot: 'disable_plaintext_auth = yes blocks it only without TLS; check that auth_mechanisms includes plain login',
      Courier: 'IMAP_CAPABILITY_TLS must include AUTH=PLAIN and not LOGINDISABLED (imapd)',
      Cyrus: 'allowplaintext: yes (imapd.conf: it still requires TLS when tls_required is set)',
      nginx: 'imap_auth login plain; in the mail block, and the same on the backend',
      Exchange: 'Set-ImapSettings -LoginType SecureLogin (plaintext logins over TLS), then restart the IMAP4 services',
    },
    generic: 'allow the LOGIN command (or AUTHENTICATE PLAIN) once TLS is up',
  },
  'login.imap-disabled': {
    text: "IMAP access is disabled for this account. Enable IMAP for the mailbox (hosted mail: the account's IMAP setting).",
    by: {
      Exchange: 'Set-CASMailbox -Identity USER -ImapEnabled $true',
      Zimbra: 'zmprov ma USER zimbraImapEnabled TRUE',
      Dovecot: 'check that the protocols setting includes imap and that no passdb or userdb field (allow_nets, nologin) bars the account',
    },
    generic: 'enable IMAP for this account in the server or hosting panel',
  },
  'login.other': {
    text: 'Login did not succeed. Check the server log for this login attempt at the time shown.',
  },
  'folders.no-sent': {
    text: 'No Sent folder was found: HubSpot cannot sync sent mail. Create one and mark it with the \\Sent special-use attribute (RFC 6154).',
    by: {
      Dovecot: 'mailbox Sent { special_use = \\Sent  auto = subscribe } in the inbox namespace',
      Cyrus:
        'create it and mark it: autocreate_inbox_folders: Sent with autocreate_specialuse_folders: Sent, or SETMETADATA INBOX.Sent (/private/specialuse "\\\\Sent"); specialusealways: 1 makes LIST return the attribute',
      Exchange: 'the Sent Items folder is created with the mailbox: check that the account was opened once in Outlook or OWA',
    },
    generic: 'create a folder named Sent (or Sent Items) and mark it \\Sent if the server supports SPECIAL-USE',
  },
  'folders.no-sent-no-special-use': {
    text: 'No Sent folder was found, and this server does not support SPECIAL-USE (RFC 6154), so no folder can carry the \\Sent mark: create a folder named "Sent" (or "Sent Items", "Sent Messages"), which HubSpot finds by name. A server version with SPECIAL-USE (Dovecot 2.1+, Cyrus 2.5+) lets you mark it.',
  },
  'folders.by-name': {
    text: 'The Sent folder is recognised by name only. Mark it with the \\Sent special-use attribute (RFC 6154) so that every client finds it.',
    by: {
      Dovecot: 'special_use = \\Sent on the mailbox Sent { } of the inbox namespace',
      Cyrus: 'SETMETADATA INBOX.Sent (/private/specialuse "\\\\Sent"), and specialusealways: 1 (imapd.conf)',
    },
    generic: 'mark the folder with the \\Sent attribute in the server configuration',
  },
  'folders.by-name-no-special-use': {
    text: 'The Sent folder is recognised by name only, and this server does not support SPECIAL-USE (RFC 6154), so it cannot be marked: keep the name as it is ("Sent", "Sent Items"), which HubSpot finds by name. Nothing more is needed unless you rename it.',
  },
  'folders.no-list': {
    text: 'The server would not list the folders (LIST), so HubSpot cannot find INBOX and Sent either. Check the server log for this LIST at the time shown: a broken mailbox index or a permissions problem is the usual cause.',
  },
  'folders.no-inbox': {
    text: 'INBOX could not be selected for this account. Check the mailbox location and its permissions on the server.',
  },
  'connections.too-few': {
    text: 'HubSpot opens up to 5 simultaneous IMAP connections per inbox (at least 4 under the 2020 rules). Raise the per-user limit, and check firewall connection limits for the egress addresses.',
    by: {
      Dovecot: 'mail_max_userip_connections = 10 or more (protocol imap { })',
      Courier: 'MAXPERIP (and MAXDAEMONS) in imapd',
      Cyrus:
        'maxlogins_per_user (imapd.conf) and maxchild of the imap service (cyrus.conf): a full maxchild queues new connections unanswered',
      nginx:
        'the limit is on the IMAP server behind the proxy: raise it there (Dovecot mail_max_userip_connections, Cyrus maxlogins_per_user)',
      Exchange: 'Set-ImapSettings -MaxConnectionsPerUser 20, then restart the IMAP4 services',
    },
    generic: 'raise the per-user (and per-address) limit of simultaneous IMAP connections to 10 or more',
  },
  'connections.four': {
    text: 'Exactly 4 simultaneous sessions succeeded: enough for the 2020 rule, not for the 2024 rule of up to 5. Raise the per-user limit.',
    by: {
      Dovecot: 'mail_max_userip_connections = 10',
      Courier: 'MAXPERIP = 10 or more (imapd)',
      Cyrus: 'maxlogins_per_user and the imap service maxchild (cyrus.conf)',
      nginx: 'the limit is on the IMAP server behind the proxy',
      Exchange: 'Set-ImapSettings -MaxConnectionsPerUser 20',
    },
    generic: 'raise the per-user limit of simultaneous IMAP connections to 10 or more',
  },
  'server.courier': {
    text: 'Courier-IMAP is not supported by HubSpot: replies cannot be logged to the CRM. Move the mailbox to a supported IMAP server such as Dovecot, or connect it through a supported provider.',
  },
  'server.layout': {
    text: 'The greeting (often a mail proxy such as nginx in front) does not name the IMAP server, and the mailbox layout after login (every folder under "INBOX.") is the one Courier-IMAP shows, which HubSpot does not support (Cyrus shows it too). Find out which server runs behind the proxy: if it is Courier-IMAP, move the mailbox to a supported server such as Dovecot.',
  },
  'auth.credentials': {
    text: 'The SMTP server rejected the registered user name and password (AUTH). Check the password and that the account may send through this submission port.',
  },
  'auth.not-offered': {
    text: 'The SMTP server does not offer AUTH after TLS on this port. Enable authentication on the submission port.',
    by: {
      Postfix:
        'smtpd_sasl_auth_enable = yes on the submission service (master.cf -o), with a SASL backend such as Dovecot (smtpd_sasl_type = dovecot)',
      Exim: 'define an authenticator (plain/login) with server_advertise_condition = ${if def:tls_in_cipher}, and auth_advertise_hosts = *',
      OpenSMTPD: 'listen on ... tls pki HOST auth (smtpd.conf)',
      nginx: 'smtp_auth login plain; in the mail block',
      Exchange:
        'offer Basic authentication after TLS on the Client Frontend receive connector (Set-ReceiveConnector -AuthMechanism Tls,BasicAuth,BasicAuthRequireTLS)',
      Zimbra: 'zmprov mcf zimbraMtaSaslAuthEnable TRUE',
    },
    generic: 'enable SMTP AUTH (PLAIN or LOGIN) on the submission port once TLS is up',
  },
  'auth.other': {
    text: 'SMTP authentication did not succeed. Check the server log for this attempt at the time shown.',
  },
  'send.sender': {
    text: "The submission server refused the inbox's own address as the sender for this login. HubSpot sends as the inbox's address, so the login must be allowed to send as it.",
    by: {
      Postfix:
        'smtpd_sender_login_maps must map the address to this login (e.g. a line "sales@example.com sales@example.com" in the map), or drop reject_sender_login_mismatch from smtpd_sender_restrictions; then postmap the map and postfix reload',
      Exim: 'the ACL that compares $authenticated_id with $sender_address (acl_smtp_mail or acl_smtp_rcpt) must accept this login for this address',
      OpenSMTPD: 'the senders <table> on the listen line must list the address for this login (smtpd.conf)',
      Exchange:
        'the mailbox must own the address (an SMTP proxy address of the mailbox), or grant Send As: Add-ADPermission -Identity MAILBOX -User LOGIN -ExtendedRights "Send As"',
      Zimbra: 'add the address as an alias of the account, or grant sendAs: zmprov grantRight account ADDRESS usr LOGIN sendAs',
      nginx: 'the check is made by the SMTP server behind the proxy: allow the login to send as the address there',
    },
    generic: "allow the registered login to send with the inbox's address as the envelope sender (MAIL FROM) and From",
  },
  'send.relay': {
    text: 'The submission server refused the recipient as relaying: it does not treat this authenticated session as allowed to send. Authenticated clients must be allowed to send to any address, the inbox itself included.',
    by: {
      Postfix:
        'smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination (on the submission service in master.cf, or main.cf), then postfix reload',
      Exim: 'in acl_smtp_rcpt, "accept authenticated = *" before the relay check',
      OpenSMTPD: 'action "relay" with a match from any auth for any',
      Exchange:
        'the Client Frontend receive connector must have Ms-Exch-SMTP-Accept-Any-Recipient for authenticated users (PermissionGroups ExchangeUsers)',
      Zimbra: 'zimbraMtaSmtpdSaslAuthEnable TRUE and permit_sasl_authenticated in zimbraMtaSmtpdRelayRestrictions',
    },
    generic: 'allow authenticated sessions to relay (send to any recipient) on the submission port',
  },
  'send.quota': {
    text: 'The mailbox is over its quota (or the message is over a size limit), so the server refused the test message: real mail to this inbox is refused or bounced too, and replies stop reaching HubSpot. Free space in the mailbox or raise its quota.',
    by: {
      Dovecot:
        'raise the quota rule (quota_rule = *:storage=... in plugin { }, or the userdb field) or expunge old mail; doveadm quota get -u USER shows the usage',
      Postfix:
        'the refusal comes from the mailbox server behind Postfix (a quota-status policy, or message_size_limit for size): raise the quota there, e.g. Dovecot quota_rule, and check message_size_limit',
      Cyrus: 'raise the quota with cyradm setquota user/NAME STORAGE_KB, or expunge old mail',
      Exim: 'raise the quota of the appendfile transport (quota = ...) or of the mailbox server behind Exim',
      Exchange: 'raise the mailbox quota: Set-Mailbox -ProhibitSendReceiveQuota ... -IssueWarningQuota ...',
      Zimbra: 'zmprov ma ADDRESS zimbraMailQuota BYTES',
    },
    generic: "raise the mailbox's quota or free space in it",
  },
  'send.rejected': {
    text: 'The submission server refused the test message; the reply above says why. Mail HubSpot sends from this inbox would be refused the same way. Look the reply up in the server log at the time shown.',
  },
  'delivery.missing': {
    text: "The server accepted the test message but it did not arrive in INBOX (or Junk) in time: mail sent to this inbox is held, deferred or lost, so replies stop reaching HubSpot's CRM. Look the message up by its Message-ID in the mail log and the queue.",
    by: {
      Postfix:
        'postqueue -p lists held and deferred mail (postcat -q ID shows why); check defer_transports, a HOLD action in an access table or header_checks, and that the LMTP or virtual transport reaches the mailbox server; postsuper -H ID releases a held message',
      Exim: 'exim -bp lists the queue and exim -Mvl ID the message log; check queue_only, the router and the transport to the mailbox',
      Exchange: 'Get-Queue and Get-MessageTrackingLog -MessageId ID show where the message stopped',
      Zimbra: 'zmmsgtrace or postqueue -p (as zimbra) show where the message stopped',
      Dovecot:
        'check the LMTP (or LDA) log lines for the Message-ID: a Sieve rule (sieve_before, the user script) may discard it or file it into another folder',
      Cyrus: 'check the lmtpd log lines for the Message-ID and any Sieve script of the user',
    },
    generic: 'find the Message-ID in the mail log and queue, and fix what holds or loses the message',
  },
  'delivery.slow': {
    text: 'The test message arrived in INBOX, but slowly: replies reach HubSpot late, and a slower day can exceed the window. Look for content filtering, greylisting or a deferred first delivery attempt in the mail log.',
    by: {
      Postfix:
        'check the delays= field of the log line for the Message-ID (before queue, in queue, connection, transmission); a content_filter or a milter that is slow shows in the first or last part',
      Exim: 'check the message log (exim -Mvl ID) and queue_run_delay / queue_only settings',
      Exchange: 'Get-MessageTrackingLog -MessageId ID shows the time of each hop',
      Dovecot: 'check the LMTP log lines for the Message-ID: a slow Sieve or a slow mail_location storage shows there',
    },
    generic: 'find where the time goes in the mail log lines for the Message-ID',
  },
  'delivery.junk': {
    text: "The test message, sent by the inbox to itself, was filed into Junk instead of INBOX. HubSpot logs replies it finds in INBOX: a filter that files the customers' replies into Junk hides them from the CRM. Exempt the inbox's own address (and authenticated mail) from the filter.",
    by: {
      Dovecot:
        'check the user\'s Sieve script and sieve_before / sieve_after scripts (fileinto "Junk" rules, e.g. on X-Spam-Flag) and the spam filter\'s score for authenticated mail',
      Cyrus: "check the user's Sieve script (sieveshell) and the spam filter's score for authenticated mail",
      Exchange:
        'check the mailbox junk e-mail rule and the trusted senders: Set-MailboxJunkEmailConfiguration -TrustedSendersAndDomains ADDRESS',
      Zimbra: "check the account's filters and zimbraSpamApplyUserFilters; add the address to amavisWhitelistSender",
    },
    generic: "exempt the inbox's own address and authenticated submissions from the junk filter and the user's filter rules",
  },
} as const satisfies Record<string, Remedy>;

export type RemedyKey = keyof typeof REMEDIES;

/**
 * The remedy as the admin reads it: the setting of the software that was identified, else
 * the generic advice, saying that it is generic.
 */
export function remedyFor(key: RemedyKey, software: Software | undefined | readonly (Software | undefined)[]): string {
  const r: Remedy = REMEDIES[key];
  if (!r.by) return r.text;
  // A round trip crosses two servers (the submission server, then the mailbox): each one's setting, in order.
  const softwares = (Array.isArray(software) ? software : [software]) as readonly (Software | undefined)[];
  const families = [...new Set(softwares.flatMap((sw) => (sw && FAMILY[sw] ? [FAMILY[sw]] : [])))];
  const specific = families.flatMap((f) => (r.by?.[f] ? [`${f}: ${r.by[f]}.`] : []));
  if (specific.length) return `${r.text} ${specific.join(' ')}`;
  const named = softwares.filter((sw): sw is Software => !!sw && sw !== 'unknown');
  const why = named.length ? `no setting is known here for ${[...new Set(named)].join(' or ')}` : 'the server software was not identified';
  return `${r.text} Generic advice (${why}): ${r.generic ?? 'see the server documentation'}.`;
}
