// The types every prober shares: what goes in (credentials) and what comes out of one
// endpoint's probe. No logic here, so imap.ts, smtp.ts and the measuring session import it
// without importing each other.
import type {
  AuthObservation,
  ConnectionsObservation,
  ConnectObservation,
  FolderObservation,
  ServerIdentity,
  TlsObservation,
  VersionMatrix,
} from '../core/types.js';

export interface Credentials {
  user: string;
  password: string;
}

/** What the measuring session found: the connection, TLS and who the server says it is. */
export interface SessionFacts {
  connect: ConnectObservation;
  tls?: TlsObservation;
  identity?: ServerIdentity;
}

/** The login and what needs it: folders and the session count (IMAP), AUTH alone (SMTP). */
export interface LoginResult {
  auth: AuthObservation;
  folders?: FolderObservation;
  connections?: ConnectionsObservation;
}

/** Everything measured on one endpoint: the session's facts, the version matrix, the login. */
export interface EndpointProbe {
  facts: SessionFacts;
  versions: VersionMatrix;
  login?: LoginResult;
}
