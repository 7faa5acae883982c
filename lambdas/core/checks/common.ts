import type { RemedyKey } from '../remedies.js';
import { failureInWords } from '../words.js';
import type { CertificateFacts, Observation, ProtocolObservation, Protocol, RequirementResult, Status } from '../types.js';

export type Params = Readonly<Record<string, number | string | boolean>>;
/** A check's result; the remedy is named by key and worded for the server's software by evaluate(). */
export type Outcome = Omit<RequirementResult, 'id' | 'remedy'> & { remedyKey?: RemedyKey };
export type Check = (obs: Observation, params: Params) => Outcome;

export function outcome(status: Status, summary: string, evidence: Record<string, unknown> = {}, remedy?: RemedyKey): Outcome {
  return remedy ? { status, summary, evidence, remedyKey: remedy } : { status, summary, evidence };
}

export function unknown(summary: string, evidence: Record<string, unknown> = {}): Outcome {
  return outcome('unknown', summary, evidence);
}

/**
 * The observation for one protocol once it is connected, or the `unknown`
 * outcome that explains why this requirement could not be measured.
 */
export function connected(obs: Observation, p: Protocol): ProtocolObservation | Outcome {
  const po = obs[p];
  if (!po) return unknown(`no ${p.toUpperCase()} host given`);
  if (!po.connect.ok) return unknown(`skipped: ${p}.connect failed`);
  return po;
}

/** The leaf certificate, or why there is none. */
export function leaf(obs: Observation, p: Protocol): { po: ProtocolObservation; cert: CertificateFacts } | Outcome {
  const po = connected(obs, p);
  if (isOutcome(po)) return po;
  const cert = po.tls?.chain[0];
  if (!po.tls?.ok || !cert) {
    const why = po.tls?.failure ? ` (${failureInWords(po.tls.failure)})` : '';
    return unknown(`skipped: no TLS session on ${p}${why}`);
  }
  return { po, cert };
}

export function isOutcome(x: unknown): x is Outcome {
  return typeof x === 'object' && x !== null && 'status' in x && 'summary' in x;
}

export function numberParam(params: Params, name: string, fallback: number): number {
  const v = params[name];
  return typeof v === 'number' ? v : fallback;
}
