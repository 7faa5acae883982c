import type { RemedyKey } from '../remedies.js';
import { failureInWords } from '../words.js';
import type {
  CertificateFacts,
  ImapObservation,
  Observation,
  ProtocolObservation,
  Protocol,
  RoundTripObservation,
  Status,
} from '../types.js';

export type Params = Readonly<Record<string, number | string | boolean>>;

/**
 * What a result code means: its status, and for a finding (warn, fail) the remedy the admin
 * reads. A code is bound to exactly one status; a check cannot return it with another.
 */
export type CodeSpec = { readonly status: 'pass' | 'unknown' } | { readonly status: 'warn' | 'fail'; readonly remedy: RemedyKey };

/** A check's result codes, `<check>.<case>` (as mdn-http-observatory names its results), each with its meaning. */
export type CodeTable = Readonly<Record<string, CodeSpec>>;

export const PASS = { status: 'pass' } as const;
export const UNKNOWN = { status: 'unknown' } as const;
export const warn = <const R extends RemedyKey>(remedy: R) => ({ status: 'warn', remedy }) as const;
export const fail = <const R extends RemedyKey>(remedy: R) => ({ status: 'fail', remedy }) as const;

/** No evidence: a requirement skipped because one before it did not pass. */
export type NoEvidence = Readonly<Record<string, never>>;

/** A check's result: a code of its table, the status and remedy the table binds to it, and what was observed. */
export interface Outcome<E extends object = object, C extends string = string> {
  status: Status;
  code: C;
  summary: string;
  evidence: E | NoEvidence;
  /** The remedy is named by key and worded for the server's software by evaluate(). */
  remedyKey?: RemedyKey;
}

/** A pure check with the codes it may return; `E` is the evidence it records. */
export interface Check<E extends object = object, C extends string = string> {
  (obs: Observation, params: Params): Outcome<E, C>;
  readonly codes: CodeTable;
}

/** A round-trip requirement: judged on the round trip alone, never on the ordinary check. */
export interface RoundTripCheck<E extends object = object, C extends string = string> {
  (rt: RoundTripObservation, params: Params): Outcome<E, C>;
  readonly codes: CodeTable;
}

/** The codes of a table bound to one status. */
export type CodeWith<T extends CodeTable, S extends Status> = { [C in keyof T]: T[C]['status'] extends S ? C : never }[keyof T] & string;

/**
 * The outcomes of one check, made only from its code table: `fail(code, ...)` accepts the
 * table's fail codes and nothing else, so a code cannot come with another status.
 */
export interface Judge<T extends CodeTable> {
  readonly codes: T;
  pass<E extends object>(code: CodeWith<T, 'pass'>, summary: string, evidence: E): Outcome<E, CodeWith<T, Status>>;
  warn<E extends object>(code: CodeWith<T, 'warn'>, summary: string, evidence: E): Outcome<E, CodeWith<T, Status>>;
  fail<E extends object>(code: CodeWith<T, 'fail'>, summary: string, evidence: E): Outcome<E, CodeWith<T, Status>>;
  unknown<E extends object = NoEvidence>(code: CodeWith<T, 'unknown'>, summary: string, evidence?: E): Outcome<E, CodeWith<T, Status>>;
  /** The check, with this table attached for the registry and the tests. */
  check<E extends object>(fn: (obs: Observation, params: Params) => Outcome<E, CodeWith<T, Status>>): Check<E, CodeWith<T, Status>>;
  roundTrip<E extends object>(
    fn: (rt: RoundTripObservation, params: Params) => Outcome<E, CodeWith<T, Status>>,
  ): RoundTripCheck<E, CodeWith<T, Status>>;
}

export function judge<const T extends CodeTable>(codes: T): Judge<T> {
  const make =
    (status: Status) =>
    <E extends object>(code: string, summary: string, evidence?: E): Outcome<E, CodeWith<T, Status>> => {
      const spec: CodeSpec = codes[code]!;
      const out: Outcome<E, CodeWith<T, Status>> = { status, code: code as CodeWith<T, Status>, summary, evidence: evidence ?? {} };
      return 'remedy' in spec ? { ...out, remedyKey: spec.remedy } : out;
    };
  return {
    codes,
    pass: make('pass'),
    warn: make('warn'),
    fail: make('fail'),
    unknown: make('unknown'),
    check: (fn) => Object.assign(fn, { codes }),
    roundTrip: (fn) => Object.assign(fn, { codes }),
  };
}

/**
 * Why a requirement could not be judged: a step before it did not pass. Each check declares
 * the reasons it can meet as unknown codes of its own (`tls.skipped`, `folders.no-credentials`).
 */
export interface Skip<R extends string> {
  skip: R;
  summary: string;
}

export function isSkip<R extends string>(x: object): x is Skip<R> {
  return 'skip' in x;
}

/**
 * The observation for one protocol once it is connected, or why this requirement could not
 * be measured. IMAP is always given; SMTP may not be.
 */
export function connected(obs: Observation, p: 'imap'): ImapObservation | Skip<'skipped'>;
export function connected(obs: Observation, p: Protocol): ProtocolObservation | Skip<'no-host' | 'skipped'>;
export function connected(obs: Observation, p: Protocol): ProtocolObservation | Skip<'no-host' | 'skipped'> {
  const po = obs[p];
  if (!po) return { skip: 'no-host', summary: `no ${p.toUpperCase()} host given` };
  if (!po.connect.ok) return { skip: 'skipped', summary: `skipped: ${p}.connect failed` };
  return po;
}

/** The leaf certificate, or why there is none. */
export function leaf(obs: Observation, p: Protocol): { po: ProtocolObservation; cert: CertificateFacts } | Skip<'no-host' | 'skipped'> {
  const po = connected(obs, p);
  if (isSkip(po)) return po;
  const cert = po.tls?.chain[0];
  if (!po.tls?.ok || !cert) {
    const why = po.tls?.failure ? ` (${failureInWords(po.tls.failure)})` : '';
    return { skip: 'skipped', summary: `skipped: no TLS session on ${p}${why}` };
  }
  return { po, cert };
}

export function numberParam(params: Params, name: string, fallback: number): number {
  const v = params[name];
  return typeof v === 'number' ? v : fallback;
}
