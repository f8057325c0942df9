import { describe, expect, it } from 'vitest';
import { redact, secretVariants } from '../../../src/output/redact.js';

describe('redact', () => {
  const secret = 'p4ss/w+rd?';

  it('replaces every occurrence of each secret', () => {
    expect(redact(`a ${secret} b ${secret}`, [secret])).toBe('a [redacted] b [redacted]');
    expect(redact('x tsig-secret y other', ['tsig-secret', 'other'])).toBe('x [redacted] y [redacted]');
  });

  it('replaces the base64 and base64url spellings', () => {
    const b64 = Buffer.from(secret).toString('base64');
    const b64url = Buffer.from(secret).toString('base64url');
    expect(b64).not.toBe(b64url);
    expect(redact(`${b64} ${b64url} ${b64.replace(/=+$/, '')}`, [secret])).toBe('[redacted] [redacted] [redacted]');
  });

  it('treats a base64url secret (EAB HMAC key) written in standard base64 as the same secret', () => {
    const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x01, 0x02, 0x03]);
    const hmac = bytes.toString('base64url');
    expect(redact(`key=${bytes.toString('base64')}`, [hmac])).toBe('key=[redacted]');
  });

  it('replaces the JSON-escaped spelling', () => {
    const quoted = 'a"b\\c';
    expect(redact(JSON.stringify({ k: quoted }), [quoted])).toBe('{"k":"[redacted]"}');
  });

  it('ignores empty secrets and leaves other text alone', () => {
    expect(secretVariants('')).toEqual([]);
    expect(redact('nothing to hide', ['', 'absent'])).toBe('nothing to hide');
  });
});
