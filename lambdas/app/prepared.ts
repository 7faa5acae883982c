import { readFile } from 'node:fs/promises';
import type { ServerConfig } from '../core/monitor-types.js';
import { PROFILES, profileNames, type Profile } from '../core/profile.js';
import type { Endpoint } from '../core/types.js';
import { inboxAddress, parseEndpoint } from './input.js';

/** What every job of a server needs from its config, worked out once: endpoints, the CA's PEM, the inbox's address. */
export interface PreparedServer {
  imap: Endpoint;
  smtp?: Endpoint;
  caPem?: string;
  address?: string;
  /** The server's profile (absent: hubspot): a shipped one, or a file read at load. */
  profile?: Profile;
}

// Keyed by the config object: the local monitor keeps its servers for the whole run, so each is
// parsed and its CA file read once, not on every job; a registry item read per job is new each time.
const prepared = new WeakMap<ServerConfig, PreparedServer>();

/** A registry item's profile: only shipped profiles are known there (no file is read per job). */
function shippedProfile(server: ServerConfig): Profile | undefined {
  if (!server.profile) return undefined;
  const p = PROFILES[server.profile];
  if (!p)
    throw new Error(
      `server "${server.id}": profile: "${server.profile}" is not a shipped profile (${profileNames().join(', ')}); profile files are read by the local monitor only`,
    );
  return p;
}

function prepare(server: ServerConfig, caPem: string | undefined, profile = shippedProfile(server)): PreparedServer {
  const address = inboxAddress(server.address, server.user);
  const p: PreparedServer = {
    imap: parseEndpoint(server.imap, 993, server.imapSecurity),
    ...(server.smtp ? { smtp: parseEndpoint(server.smtp, 587, server.smtpSecurity) } : {}),
    ...(caPem !== undefined ? { caPem } : {}),
    ...(address ? { address } : {}),
    ...(profile ? { profile } : {}),
  };
  prepared.set(server, p);
  return p;
}

/** Records a server whose config was validated and whose CA file was read at load (loadServers). */
export function rememberPrepared(server: ServerConfig, caPem: string | undefined, profile?: Profile): void {
  prepare(server, caPem, profile ?? shippedProfile(server));
}

/** The prepared form of a server: from the load, or worked out now (a registry item, a test's config). */
export async function preparedServer(server: ServerConfig): Promise<PreparedServer> {
  return prepared.get(server) ?? prepare(server, server.caFile ? await readFile(server.caFile, 'utf8') : undefined);
}
