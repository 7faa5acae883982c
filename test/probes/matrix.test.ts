import { describe, expect, it } from 'vitest';
import { judgeHandshakeError, versionMatrix, VersionHandshakes } from '../../lambdas/probes/matrix.js';

describe('TLS version refusals', () => {
  it.each([
    [
      Object.assign(new Error('Client network socket disconnected before secure TLS connection was established'), { code: 'ECONNRESET' }),
      'refused',
      'closed without a TLS alert',
    ],
    [
      Object.assign(new Error('tlsv1 alert protocol version'), { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' }),
      'refused',
      'protocol_version alert',
    ],
    [
      Object.assign(new Error('unsupported protocol'), { code: 'ERR_SSL_UNSUPPORTED_PROTOCOL' }),
      'refused',
      'server answered with another version',
    ],
    [Object.assign(new Error('wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'error', undefined],
  ])('%s → %s', (err, result, detail) => {
    const r = judgeHandshakeError(err);
    expect(r.result).toBe(result);
    if (detail) expect(r.detail).toBe(detail);
  });
});

describe('version handshakes (VersionHandshakes)', () => {
  const accepted = (protocol: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2') => ({ attempt: { result: 'accepted' as const, cipher: 'C' }, protocol });

  it('TLS 1.0 and 1.1 in one handshake, then 1.2; both refused by one answer', () => {
    const pins = new VersionHandshakes({ pairLegacy: true });
    const first = pins.next()!;
    expect(first).toEqual(['TLSv1', 'TLSv1.1']);
    expect(pins.next()).toEqual(['TLSv1.2']);
    expect(pins.left).toBe(0);
    pins.record(first, { attempt: { result: 'refused', detail: 'protocol_version alert', stage: 'tls-handshake' } });
    expect(pins.results.get('TLSv1')).toEqual({
      result: 'refused',
      detail: 'protocol_version alert (TLS 1.0 and TLS 1.1 offered together)',
      stage: 'tls-handshake',
    });
    expect(pins.results.get('TLSv1.1')).toEqual(pins.results.get('TLSv1'));
  });

  it('1.1 chosen: accepted, and TLS 1.0 gets a handshake of its own', () => {
    const pins = new VersionHandshakes({ pairLegacy: true });
    const first = pins.next()!;
    pins.record(first, accepted('TLSv1.1'));
    expect(pins.results.get('TLSv1.1')).toEqual({ result: 'accepted', cipher: 'C' });
    expect(pins.results.has('TLSv1')).toBe(false);
    expect(pins.next()).toEqual(['TLSv1']);
  });

  it('unpaired: 1.0, 1.1 and 1.2 each alone', () => {
    const pins = new VersionHandshakes({ pairLegacy: false });
    expect([pins.next(), pins.next(), pins.next(), pins.next()]).toEqual([['TLSv1'], ['TLSv1.1'], ['TLSv1.2'], undefined]);
  });

  it('1.0 chosen: accepted, and 1.1 refused by that choice', () => {
    const pins = new VersionHandshakes({ pairLegacy: true });
    pins.record(pins.next()!, accepted('TLSv1'));
    expect(pins.results.get('TLSv1')).toEqual({ result: 'accepted', cipher: 'C' });
    expect(pins.results.get('TLSv1.1')).toEqual({
      result: 'refused',
      detail: 'offered TLS 1.0 and TLS 1.1, the server chose TLS 1.0',
      stage: 'tls-handshake',
    });
    expect(pins.next()).toEqual(['TLSv1.2']);
    expect(pins.left).toBe(0);
  });

  it('the matrix: pinned results, the measured version, newer ones refused, a failed measuring session for the rest', () => {
    const pinned = new Map([['TLSv1.2', { result: 'accepted' as const }]] as const);
    const m = versionMatrix(pinned, { ok: true, protocol: 'TLSv1.2', cipher: 'X', chain: [] });
    expect(m['TLSv1.3']).toEqual({ result: 'refused', detail: 'offered TLS 1.0 to 1.3, the server chose TLS 1.2', stage: 'tls-handshake' });
    expect(m.TLSv1).toEqual({ result: 'error', detail: 'not measured' });
    expect(m.SSLv3).toBe('not-tested');
    // A pinned handshake to the version the measuring session negotiated that then failed cannot unmake it.
    const reset = new Map([
      ['TLSv1.2', { result: 'refused' as const, detail: 'closed without a TLS alert', stage: 'tls-handshake' as const }],
    ] as const);
    expect(versionMatrix(reset, { ok: true, protocol: 'TLSv1.2', cipher: 'X', chain: [] })['TLSv1.2']).toEqual({
      result: 'accepted',
      cipher: 'X',
    });
    const failed = versionMatrix(new Map(), {
      ok: false,
      chain: [],
      failure: { stage: 'tls-handshake', kind: 'tls', message: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: tlsv1 alert protocol version' },
    });
    expect(failed['TLSv1.3']).toEqual({ result: 'refused', detail: 'protocol_version alert', stage: 'tls-handshake' });
  });
});
