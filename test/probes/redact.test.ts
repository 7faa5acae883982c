import { describe, expect, it } from 'vitest';
import { redact } from '../../lambdas/probes/probe.js';
import { Redactor } from '../../lambdas/probes/text.js';

describe('redact', () => {
  it('removes a secret from server text, however deep', () => {
    const v = redact(
      {
        failure: { message: 'NO pw=hunter2!' },
        identity: { greeting: '* OK hunter2!', capabilities: ['X-hunter2!'] },
        folders: { folders: ['hunter2!'] },
        n: 3,
      },
      new Redactor(['hunter2!']),
    );
    expect(JSON.stringify(v)).not.toContain('hunter2!');
    expect(v).toEqual({
      failure: { message: 'NO pw=[redacted]' },
      identity: { greeting: '* OK [redacted]', capabilities: ['X-[redacted]'] },
      folders: { folders: ['[redacted]'] },
      n: 3,
    });
  });

  it('covers the identity evidence too: Courier evidence quotes the greeting', () => {
    const v = redact(
      {
        identity: { courierEvidence: ['greeting: * OK hunter2! Courier-IMAP'], courierLayout: ['hunter2!'] },
        folders: { namespace: { prefix: 'hunter2!.', delimiter: '.' } },
      },
      new Redactor(['hunter2!']),
    );
    expect(JSON.stringify(v)).not.toContain('hunter2!');
  });

  it('never rewrites our own vocabulary, so a short password cannot corrupt a result', () => {
    const v = redact(
      { versions: { TLSv1: { result: 'accepted', stage: 'tls-handshake' } }, failure: { kind: 'rejected', message: 'accepted' } },
      new Redactor(['p']),
    );
    expect(v.versions.TLSv1).toEqual({ result: 'accepted', stage: 'tls-handshake' });
    expect(v.failure.kind).toBe('rejected');
  });
});
