import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  OPCODE,
  RCODE,
  RR_CLASS,
  RR_TYPE,
  decodeMessage,
  encodeMessage,
} from '../../../plugins/nsupdate/dns-message.js';
import {
  TsigError,
  TsigKey,
  decodeBase64Secret,
  parseTsigAlgorithm,
  signMessage,
  verifyMessage,
  type TsigAlgorithm,
} from '../../../plugins/nsupdate/tsig.js';

/**
 * Known vectors from BIND 9.18 itself: `nsupdate -y hmac-<alg>:vector-<alg>:<secret>` sent
 * `update add vector.example.test 60 TXT "<alg>-value"` through a capturing UDP proxy to named,
 * which answered NOERROR. The secret bytes are (i*7+3) & 255.
 */
interface Vector {
  algorithm: TsigAlgorithm;
  secret: string;
  request: string;
  response: string;
}
const TIME_SIGNED_MS = 0x6b06cdf4 * 1000;
const VECTORS: Vector[] = [
  {
    algorithm: 'hmac-sha256',
    secret: 'AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw=',
    request:
      '183428000001000000010001076578616d706c650474657374000006000106766563746f72c00c001000010000003c000d0c7368613235362d76616c75650d766563746f722d7368613235360000fa00ff00000000003d0b686d61632d7368613235360000006b06cdf4012c00208b66cb4de12c6d6cb0e3d57f8a78d8546fa9073e4d59752438cb74fe2914fb95183400000000',
    response:
      '1834a8000001000000000001076578616d706c65047465737400000600010d766563746f722d7368613235360000fa00ff00000000003d0b686d61632d7368613235360000006b06cdf4012c002002c186dbc764ab44f19fc656942973a5333fd3781d85ff488db92a591addee75183400000000',
  },
  {
    algorithm: 'hmac-sha512',
    secret: 'AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vA==',
    request:
      '0d8e28000001000000010001076578616d706c650474657374000006000106766563746f72c00c001000010000003c000d0c7368613531322d76616c75650d766563746f722d7368613531320000fa00ff00000000005d0b686d61632d7368613531320000006b06cdf4012c004034f1bc171eba962b50c5f787c72a751d82aebaeb8a0e35a2ee62687baf80468889ea333e510427f5ad3c6226fd85b9e0af52f0d70976e1ddc15c1c7f664968f40d8e00000000',
    response:
      '0d8ea8000001000000000001076578616d706c65047465737400000600010d766563746f722d7368613531320000fa00ff00000000005d0b686d61632d7368613531320000006b06cdf4012c00402443cc67ed1c8a40d3e3a31c92f5d9c6d06c5f8239439e898c17c8c5e9fe400d846d64ec79e6084c74ebe19d710d6e1e4a6a771753debc80e3ef22510f2104c30d8e00000000',
  },
  {
    algorithm: 'hmac-sha1',
    secret: 'AwoRGB8mLTQ7QklQV15lbHN6gYg=',
    request:
      'd75528000001000000010001076578616d706c650474657374000006000106766563746f72c00c001000010000003c000b0a736861312d76616c75650b766563746f722d736861310000fa00ff00000000002f09686d61632d736861310000006b06cdf4012c0014faecde2400acca87aa96ee17ef9fe43cf50c900bd75500000000',
    response:
      'd755a8000001000000000001076578616d706c65047465737400000600010b766563746f722d736861310000fa00ff00000000002f09686d61632d736861310000006b06cdf4012c0014191bbf69d16c6ca9d56410ccb26b1c9e460b83afd75500000000',
  },
];

function keyOf(v: Vector, name = `vector-${v.algorithm.slice(5)}`): TsigKey {
  return new TsigKey(name, v.algorithm, decodeBase64Secret(v.secret)!);
}

function stripTsig(raw: Buffer): Buffer {
  const offset = decodeMessage(raw).tsig!.offset;
  const unsigned = Buffer.from(raw.subarray(0, offset));
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  return unsigned;
}

describe.each(VECTORS)('TSIG $algorithm against BIND', (vector) => {
  const request = Buffer.from(vector.request, 'hex');
  const response = Buffer.from(vector.response, 'hex');
  const key = keyOf(vector);

  it('signs exactly as nsupdate did', () => {
    const signed = signMessage(stripTsig(request), key, { now: TIME_SIGNED_MS });
    expect(signed.message.toString('hex')).toBe(vector.request);
    expect(signed.mac).toEqual(decodeMessage(request).tsig!.data.mac);
  });

  it("verifies nsupdate's request and named's response (request MAC prepended)", () => {
    expect(() => verifyMessage(request, decodeMessage(request), key, { now: TIME_SIGNED_MS })).not.toThrow();
    const requestMac = decodeMessage(request).tsig!.data.mac;
    expect(() =>
      verifyMessage(response, decodeMessage(response), key, { requestMac, now: TIME_SIGNED_MS + 299_000 }),
    ).not.toThrow();
  });

  it('rejects a flipped bit, the wrong secret, the wrong request MAC and a clock outside the fudge', () => {
    const requestMac = decodeMessage(request).tsig!.data.mac;
    const flipped = Buffer.from(response);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 10) ^ 1, flipped.length - 10); // inside the MAC
    const expectTsig = (fn: () => void, code: string, origin: string): void => {
      try {
        fn();
        expect.unreachable('verification passed');
      } catch (error) {
        expect(error).toBeInstanceOf(TsigError);
        expect(error).toMatchObject({ code, origin });
        expect((error as Error).message).not.toContain(vector.secret);
      }
    };
    expectTsig(
      () => verifyMessage(flipped, decodeMessage(flipped), key, { requestMac, now: TIME_SIGNED_MS }),
      'BADSIG',
      'client',
    );
    const otherSecret = Buffer.from(decodeBase64Secret(vector.secret)!);
    otherSecret.writeUInt8(otherSecret.readUInt8(0) ^ 0xff, 0);
    const wrongKey = new TsigKey(key.name, key.algorithm, otherSecret);
    expectTsig(
      () => verifyMessage(response, decodeMessage(response), wrongKey, { requestMac, now: TIME_SIGNED_MS }),
      'BADSIG',
      'client',
    );
    expectTsig(
      () =>
        verifyMessage(response, decodeMessage(response), key, {
          requestMac: Buffer.alloc(requestMac.length),
          now: TIME_SIGNED_MS,
        }),
      'BADSIG',
      'client',
    );
    expectTsig(
      () => verifyMessage(response, decodeMessage(response), key, { requestMac, now: TIME_SIGNED_MS + 301_000 }),
      'BADTIME',
      'client',
    );
    expectTsig(
      () =>
        verifyMessage(response, decodeMessage(response), keyOf(vector, 'other-key'), {
          requestMac,
          now: TIME_SIGNED_MS,
        }),
      'BADKEY',
      'client',
    );
  });
});

describe('TSIG keys and server errors', () => {
  const key = new TsigKey('Acme.Key.', 'hmac-sha256', Buffer.alloc(32, 7));

  it('canonicalizes the key name and never shows the secret', () => {
    expect(key.name).toBe('acme.key');
    const secretB64 = Buffer.alloc(32, 7).toString('base64');
    for (const text of [String(key), JSON.stringify(key), inspect(key), inspect({ nested: key })]) {
      expect(text).not.toContain(secretB64);
      expect(text).not.toContain('0707');
    }
    expect(inspect(key)).toContain('<redacted>');
  });

  it('parses algorithm names as BIND writes them', () => {
    expect(parseTsigAlgorithm('HMAC-SHA512.')).toBe('hmac-sha512');
    expect(parseTsigAlgorithm('hmac-sha224')).toBe('hmac-sha224');
    expect(parseTsigAlgorithm('hmac-md5.sig-alg.reg.int')).toBeUndefined();
    expect(parseTsigAlgorithm('toString')).toBeUndefined();
  });

  it('round-trips a signed response with sha224 and sha384 too', () => {
    for (const algorithm of ['hmac-sha224', 'hmac-sha384'] as const) {
      const k = new TsigKey('k', algorithm, Buffer.alloc(20, 1));
      const request = signMessage(encodeMessage({ id: 9, opcode: OPCODE.UPDATE }), k);
      const response = signMessage(encodeMessage({ id: 9, opcode: OPCODE.UPDATE, qr: true }), k, {
        requestMac: request.mac,
      });
      expect(() =>
        verifyMessage(response.message, decodeMessage(response.message), k, { requestMac: request.mac }),
      ).not.toThrow();
    }
  });

  const answer = (error: number, options: { otherData?: Buffer; unsigned?: boolean } = {}): Buffer => {
    if (options.unsigned) {
      // BADSIG/BADKEY answers carry an empty MAC (RFC 8945 5.3.2).
      return encodeMessage({
        id: 3,
        opcode: OPCODE.UPDATE,
        qr: true,
        rcode: RCODE.NOTAUTH,
        additionals: [
          {
            name: key.name,
            type: RR_TYPE.TSIG,
            class: RR_CLASS.ANY,
            ttl: 0,
            data: {
              kind: 'tsig',
              tsig: {
                algorithm: key.algorithm,
                timeSigned: 1,
                fudge: 300,
                mac: Buffer.alloc(0),
                originalId: 3,
                error,
                otherData: Buffer.alloc(0),
              },
            },
          },
        ],
      });
    }
    const body = encodeMessage({ id: 3, opcode: OPCODE.UPDATE, qr: true, rcode: RCODE.NOTAUTH });
    return signMessage(body, key, { error, ...(options.otherData ? { otherData: options.otherData } : {}) }).message;
  };

  it.each([
    ['BADSIG', RCODE.BADSIG, /rejected the signature.*BADSIG.*check the TSIG key name\/secret\/algorithm/],
    ['BADKEY', RCODE.BADKEY, /does not know TSIG key acme.key \(hmac-sha256\).*BADKEY/],
  ])('reports the server verdict %s from the TSIG error field', (code, error, pattern) => {
    const raw = answer(error, { unsigned: true });
    const decoded = decodeMessage(raw);
    expect(decoded.tsig!.data.mac.length).toBe(0);
    expect(() => verifyMessage(raw, decoded, key)).toThrow(pattern);
    expect(() => verifyMessage(raw, decoded, key)).toThrow(expect.objectContaining({ code, origin: 'server' }));
  });

  it('reports BADTIME with the server clock from other data', () => {
    const serverTime = Buffer.alloc(6);
    serverTime.writeUIntBE(1_700_000_000, 0, 6);
    const raw = answer(RCODE.BADTIME, { otherData: serverTime });
    expect(() => verifyMessage(raw, decodeMessage(raw), key)).toThrow(/BADTIME.*server clock 2023-11-14T22:13:20.000Z/);
  });

  it('refuses an unsigned answer', () => {
    const raw = encodeMessage({ id: 3, opcode: OPCODE.UPDATE, qr: true });
    expect(() => verifyMessage(raw, decodeMessage(raw), key)).toThrow(expect.objectContaining({ code: 'UNSIGNED' }));
  });

  it('refuses a MAC truncated below half the hash', () => {
    const body = encodeMessage({ id: 3, opcode: OPCODE.UPDATE, qr: true });
    const raw = signMessage(body, key).message;
    const decoded = decodeMessage(raw);
    decoded.tsig!.data.mac = decoded.tsig!.data.mac.subarray(0, 8);
    expect(() => verifyMessage(raw, decoded, key)).toThrow(expect.objectContaining({ code: 'BADTRUNC' }));
  });
});
