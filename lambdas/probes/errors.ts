import type { Failure, FailureKind, Stage } from '../core/types.js';
import { oneLine } from './text.js';

/** A server behaviour that ended a probe step: carries the classified failure. */
export class ProbeError extends Error {
  override readonly name = 'ProbeError';
  constructor(readonly failure: Failure) {
    super(`${failure.kind} at ${failure.stage}: ${failure.message}`);
  }
}

export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
  constructor() {
    super('the check deadline passed');
  }
}

const KIND_BY_CODE: Record<string, FailureKind> = {
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_NONAME: 'dns',
  EAI_FAIL: 'dns',
  ENODATA: 'dns',
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EADDRNOTAVAIL: 'error',
};

/** Turns whatever a socket, TLS or library threw into a classified failure naming the stage. */
export function classify(err: unknown, stage: Stage): Failure {
  if (err instanceof ProbeError) return err.failure;
  if (err instanceof DeadlineError) return { stage, kind: 'timeout', message: `timed out at ${stage}` };
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const raw = typeof e?.message === 'string' ? e.message : String(err);
  // OpenSSL's "80EC...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:file.c:350:" to its reason.
  const message = oneLine(/^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):/.exec(raw)?.[1] ?? raw);
  const kind: FailureKind = KIND_BY_CODE[code] ?? (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') ? 'tls' : 'error');
  return { stage, kind, message: code && !message.includes(code) ? `${code}: ${message}` : message };
}

export function fail(stage: Stage, kind: FailureKind, message: string): ProbeError {
  return new ProbeError({ stage, kind, message: oneLine(message) });
}
