import { describe, expect, it } from 'vitest';
import { parseDuration, parseEndpoint } from '../../lambdas/app/input.js';

describe('input', () => {
  it('endpoints: default ports, security by port, IDN to punycode, IPv6', () => {
    expect(parseEndpoint('imap.example.com', 993)).toEqual({ host: 'imap.example.com', port: 993, security: 'tls' });
    expect(parseEndpoint('smtp.example.com:465', 587)).toEqual({ host: 'smtp.example.com', port: 465, security: 'tls' });
    expect(parseEndpoint('smtp.example.com', 587)).toEqual({ host: 'smtp.example.com', port: 587, security: 'starttls' });
    expect(parseEndpoint('Mail.Bücher.example:143', 993).host).toBe('mail.xn--bcher-kva.example');
    expect(parseEndpoint('[2001:db8::1]:993', 993)).toEqual({ host: '2001:db8::1', port: 993, security: 'tls' });
    expect(parseEndpoint('imap.example.com:993', 993, 'starttls').security).toBe('starttls');
  });

  it('durations', () => {
    expect(parseDuration('20000')).toBe(20000);
    expect(parseDuration('20s')).toBe(20000);
    expect(parseDuration('15m')).toBe(900000);
    expect(parseDuration('15', 'm')).toBe(900000);
    expect(() => parseDuration('0')).toThrow(/more than zero/);
    expect(() => parseDuration('-5s')).toThrow(/not a duration/);
  });
});
