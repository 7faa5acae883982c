/**
 * One paragraph per failure mode, for the mail administrator: what to change.
 * Keyed by requirement (without the protocol prefix) and failure variant.
 */
export const REMEDIES = {
  'connect.dns':
    'Publish an A (or AAAA) record for this host name in public DNS, or correct the host name registered for the inbox. HubSpot connects by name.',
  'connect.refused':
    'Nothing accepts connections on this port. Start the IMAP/SMTP service on it (or register the port it really listens on) and make sure the firewall forwards it.',
  'connect.timeout':
    "The connection was silently dropped: most often a firewall that does not allow this monitor's (and HubSpot's) fixed IP addresses. Add the egress addresses to the allow-list for this port.",
  'connect.reset':
    'The connection was reset as it opened: a firewall, IPS or the server itself rejects this source address. Allow-list the egress addresses for this port.',
  'connect.private':
    "The host name resolves to a private, loopback or otherwise non-public address, which HubSpot cannot reach from the internet (and which the monitor will not probe). Publish the server's public address in public DNS, or correct the host name. If the monitor is meant to reach it on a private network, register the server with allowPrivateAddress.",
  'connect.other':
    'The port could not be reached. Check that the service runs, that the port is open to the internet, and that the egress addresses are allow-listed.',
  'tls.plaintext':
    'Offer encryption on this port: enable STARTTLS (Dovecot: ssl = yes; Postfix: smtpd_tls_security_level = may or encrypt with a certificate), or register the implicit-TLS port instead (IMAP 993, SMTP 465).',
  'tls.failed':
    'The TLS handshake did not complete. Check that the certificate and private key are installed and readable by the service, and that the port serves TLS as registered (implicit TLS on 993/465, STARTTLS on 143/587/25).',
  'tls-version.tls13only':
    'HubSpot connects with TLS 1.0, 1.1 or 1.2 and cannot use a TLS-1.3-only server. Accept TLS 1.2 again: Dovecot ssl_min_protocol = TLSv1.2; Postfix smtpd_tls_protocols = >=TLSv1.2 and smtpd_tls_mandatory_protocols = >=TLSv1.2; Courier TLS_PRIORITY including +VERS-TLS1.2; Exchange/Windows: enable TLS 1.2 for SCHANNEL server.',
  'tls-version.none':
    'No TLS version could be negotiated. Enable TLS 1.2 on the service (Dovecot ssl_min_protocol = TLSv1.2, Postfix smtpd_tls_protocols = >=TLSv1.2) and check the certificate and cipher configuration.',
  'tls-version.weak':
    'Only TLS 1.0/1.1 are accepted. HubSpot still connects, but these versions are deprecated: enable TLS 1.2 (Dovecot ssl_min_protocol = TLSv1.2 with a current OpenSSL; Postfix smtpd_tls_protocols = >=TLSv1.2).',
  'cert-name.mismatch':
    "Install a certificate whose subject Common Name (CN) is exactly the host name HubSpot connects to (or a wildcard for its domain). HubSpot checks the CN, not only the subjectAltName: when requesting the certificate, set CN to this host name and list it as a SAN too.",
  'cert-name.no-san':
    'The CN matches but no subjectAltName does, and modern clients ignore the CN. Reissue the certificate with the host name in the subjectAltName as well as the CN.',
  'cert-trust.untrusted':
    'The certificate does not chain to a public root. Install a certificate from a public CA (for example Let\'s Encrypt) and serve the full chain (leaf then intermediates). Otherwise every HubSpot user must tick "allow non-secure certificate" when connecting, and this server must be registered with allowInsecureCertificate.',
  'cert-trust.allowed':
    'The certificate does not chain to a public root; it is accepted only because the server is registered with allowInsecureCertificate. Replace it with a publicly trusted certificate when you can.',
  'cert-expiry.expired':
    'The certificate has expired (or is not valid yet): renew it and reload the service. Automate renewal (certbot, acme.sh) and reload the mail services after each renewal.',
  'cert-expiry.soon':
    'The certificate expires soon: renew it now and reload the service, and check that automatic renewal reloads the mail services too.',
  'tls.injection':
    'Whatever answers this port wrote data between its STARTTLS go-ahead and the TLS handshake: the response-injection flaw of CVE-2011-0411 and its kin, or a proxy or firewall that rewrites the session. Update the mail server software, and check any STARTTLS-terminating proxy or firewall in front of it. inboxguard sends no credentials over such a session.',
  'login.credentials':
    'The server rejected the registered user name and password. Check the password, that the account is not locked or disabled, and that it may log in over IMAP.',
  'login.logindisabled':
    'The server refuses LOGIN even after TLS (LOGINDISABLED). Allow plaintext authentication over TLS (Dovecot: disable_plaintext_auth = yes only blocks it without TLS; check auth_mechanisms includes plain login).',
  'login.imap-disabled':
    "IMAP access is disabled for this account. Enable IMAP for the mailbox (Exchange: Set-CASMailbox -ImapEnabled $true; hosted mail: the account's IMAP setting).",
  'login.other':
    'Login did not succeed. Check the server log for this login attempt at the time shown.',
  'folders.no-sent':
    'No Sent folder was found. Create one and mark it with the \\Sent special-use attribute (Dovecot: mailbox Sent { special_use = \\Sent auto = subscribe }), so that HubSpot can sync sent mail.',
  'folders.by-name':
    'The Sent folder is recognised by name only. Mark it with the \\Sent special-use attribute (RFC 6154; Dovecot: special_use = \\Sent) so that every client finds it.',
  'folders.no-list':
    'The server would not list the folders (LIST), so HubSpot cannot find INBOX and Sent either. Check the server log for this LIST at the time shown: a broken mailbox index or a permissions problem is the usual cause.',
  'folders.no-inbox':
    'INBOX could not be selected for this account. Check the mailbox location and its permissions on the server.',
  'connections.too-few':
    'HubSpot opens up to 5 simultaneous IMAP connections per inbox (at least 4 under the 2020 rules). Raise the per-user limit: Dovecot mail_max_userip_connections = 10 or more; Courier MAXPERIP; check firewall connection limits for the egress addresses.',
  'connections.four':
    'Exactly 4 simultaneous sessions succeeded: enough for the 2020 rule, not for the 2024 rule of up to 5. Raise the per-user limit (Dovecot mail_max_userip_connections = 10).',
  'server.courier':
    'Courier-IMAP is not supported by HubSpot: replies cannot be logged to the CRM. Move the mailbox to a supported IMAP server such as Dovecot, or connect it through a supported provider.',
  'auth.credentials':
    'The SMTP server rejected the registered user name and password (AUTH). Check the password and that the account may send through this submission port.',
  'auth.not-offered':
    'The SMTP server does not offer AUTH after TLS on this port. Enable SASL authentication on the submission port (Postfix: smtpd_sasl_auth_enable = yes on submission, with a SASL backend such as Dovecot).',
  'auth.other':
    'SMTP authentication did not succeed. Check the server log for this attempt at the time shown.',
} as const;

export type RemedyKey = keyof typeof REMEDIES;
