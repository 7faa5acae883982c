// `npx tsx test/lab/run.ts`: starts the real-server lab for manual use, prints where
// everything is, and stops it all on Ctrl-C or SIGTERM.
import { startLab, type Lab } from '../../lab/lab.js';

function describeLab(lab: Lab): string {
  const rows: Array<[string, string, string]> = [
    ...Object.entries(lab.dovecot).map(([name, p]): [string, string, string] => [
      `dovecot ${name}`,
      `${p.imapStarttls} (STARTTLS)`,
      `${p.imapTls} (TLS)`,
    ]),
    ['courier', `${lab.courier.imapStarttls} (STARTTLS)`, `${lab.courier.imapTls} (TLS)`],
    ['postfix', `${lab.postfix.submission} (submission, STARTTLS)`, `${lab.postfix.smtps} (smtps, TLS)`],
    ...Object.entries(lab.cyrus).map(([name, p]): [string, string, string] => [
      `cyrus ${name}`,
      `${p.imapStarttls} (STARTTLS)`,
      `${p.imapTls} (TLS)`,
    ]),
    ...Object.entries(lab.exim).map(([name, p]): [string, string, string] => [
      `exim ${name}`,
      `${p.submission} (submission, STARTTLS)`,
      `${p.smtps} (smtps, TLS)`,
    ]),
    ['flow postfix', `${lab.flow.submission} (submission, STARTTLS)`, `${lab.flow.smtps} (smtps, TLS)`],
    ['flow dovecot', `${lab.flow.imapStarttls} (STARTTLS)`, `${lab.flow.imapTls} (TLS)`],
    ['flow dovecot legacy', `${lab.flow.legacy.imapStarttls} (STARTTLS)`, `${lab.flow.legacy.imapTls} (TLS)`],
  ];
  const width = (i: 0 | 1): number => Math.max(...rows.map((row) => row[i].length));
  const table = rows.map(([name, plain, secure]) => `  ${name.padEnd(width(0))}  ${plain.padEnd(width(1))}  ${secure}`);
  const common = `--resolve ${lab.hostname}=127.0.0.1 --ca-file ${lab.caFile} --source-address 127.0.0.2 --user ${lab.user} --password-env LAB_PW`;
  return [
    'inboxguard real-server lab is running on 127.0.0.1 (connect from 127.0.0.2):',
    ...table,
    '',
    `  hostname  ${lab.hostname}`,
    `  user      ${lab.user}`,
    `  password  ${lab.password}`,
    `  caFile    ${lab.caFile}`,
    `  dir       ${lab.dir}`,
    '',
    'Mail flow (submit to "flow postfix" as any of these, same password; it delivers over LMTP):',
    ...Object.entries(lab.flow.users).map(
      ([key, address]) => `  ${address.padEnd(20)}  ${lab.flow.maildirs[key as keyof typeof lab.flow.maildirs]}`,
    ),
    `  queue: postqueue -c ${lab.flow.postfixConfigDir} -p; clear what is held: postsuper -c ${lab.flow.postfixConfigDir} -d ALL hold`,
    '',
    'Examples:',
    `  export LAB_PW=${lab.password}`,
    `  npx inboxguard check --imap ${lab.hostname}:${lab.dovecot.compliant.imapTls} --imap-security tls --smtp ${lab.hostname}:${lab.postfix.submission} --smtp-security starttls ${common}`,
    `  npx inboxguard check --imap ${lab.hostname}:${lab.dovecot.tls13only.imapStarttls} --imap-security starttls ${common}`,
    `  npx inboxguard check --imap ${lab.hostname}:${lab.courier.imapTls} --imap-security tls --smtp ${lab.hostname}:${lab.postfix.smtps} --smtp-security tls ${common}`,
    `  openssl s_client -connect 127.0.0.1:${lab.dovecot.compliant.imapStarttls} -starttls imap -CAfile ${lab.caFile} -verify_hostname ${lab.hostname}`,
    '',
    'Ctrl-C stops everything.',
  ].join('\n');
}

const lab = await startLab();
console.log(describeLab(lab));

let stopping = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the lab...`);
  lab.stop().then(
    () => {
      console.log('lab stopped');
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
// Stay alive until a signal arrives (the server child processes also hold the loop open).
setInterval(() => undefined, 60_000);
