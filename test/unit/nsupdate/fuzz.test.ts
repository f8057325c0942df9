/**
 * The decoder reads bytes from the network: whatever arrives, it may only return a message or
 * throw DnsMessageError (never RangeError, TypeError, a hang or a huge allocation). TSIG
 * verification of whatever decodes may only throw TsigError. Seeded, so failures reproduce.
 */
import { describe, expect, it } from 'vitest';
import {
  DnsMessageError,
  OPCODE,
  RCODE,
  decodeMessage,
  encodeMessage,
  encodeTxtUpdate,
  type DnsMessage,
} from '../../../plugins/nsupdate/dns-message.js';
import { TsigError, TsigKey, signMessage, verifyMessage } from '../../../plugins/nsupdate/tsig.js';

/** mulberry32: tiny, seedable, good enough to spread inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const key = new TsigKey('fuzz.key', 'hmac-sha256', Buffer.alloc(32, 9));

function seeds(): Buffer[] {
  const update = encodeTxtUpdate({
    id: 77,
    zone: 'example.test',
    changes: [
      { action: 'add', name: '_acme-challenge.example.test', value: 'a'.repeat(300), ttl: 60 },
      { action: 'delete', name: '_acme-challenge.example.test', value: 'b', ttl: 0 },
    ],
  });
  const signed = signMessage(update, key).message;
  const response = signMessage(
    encodeMessage({ id: 77, opcode: OPCODE.UPDATE, qr: true, rcode: RCODE.REFUSED }),
    key,
  ).message;
  // A compressed answer as a resolver sends it (captured from BIND by tsig.test.ts's vectors).
  const bind = Buffer.from(
    '1834a8000001000000000001076578616d706c65047465737400000600010d766563746f722d7368613235360000fa00ff00000000003d0b686d61632d7368613235360000006b06cdf4012c002002c186dbc764ab44f19fc656942973a5333fd3781d85ff488db92a591addee75183400000000',
    'hex',
  );
  return [update, signed, response, bind, questionChain(20)];
}

/** `count` questions, each name one label plus a pointer to the previous question's name. */
function questionChain(count: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(count, 4);
  const parts: Buffer[] = [header];
  let offset = 12;
  let previous = -1;
  for (let i = 0; i < count; i++) {
    const name =
      previous < 0 ? Buffer.from([1, 0x61, 0]) : Buffer.from([1, 0x61, 0xc0 | (previous >> 8), previous & 0xff]);
    parts.push(name, Buffer.from([0, 16, 0, 1]));
    previous = offset;
    offset += name.length + 4;
  }
  return Buffer.concat(parts);
}

function mutate(base: Buffer, random: () => number): Buffer {
  const out = Buffer.from(base);
  const kind = Math.floor(random() * 5);
  const count = 1 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) {
    const at = Math.floor(random() * out.length);
    if (kind === 0) out[at] = Math.floor(random() * 256);
    else if (kind === 1) out[at] = (out[at] ?? 0) ^ (1 << Math.floor(random() * 8));
    else if (kind === 2) out[at] = [0x00, 0xff, 0xc0, 0x3f, 0x40][Math.floor(random() * 5)] ?? 0;
    else if (kind === 3 && at + 1 < out.length)
      out.writeUInt16BE(Math.floor(random() * 0x10000), Math.min(at, out.length - 2));
  }
  if (kind === 4) return out.subarray(0, Math.floor(random() * out.length));
  return out;
}

function decodeSafely(input: Buffer): DnsMessage | undefined {
  try {
    return decodeMessage(input);
  } catch (error) {
    if (!(error instanceof DnsMessageError)) {
      throw new Error(
        `decoder threw ${(error as Error).name} for ${input.toString('hex')}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return undefined;
  }
}

describe('decoder fuzzing', () => {
  it('survives 3000 random inputs', () => {
    const random = prng(0x5eed);
    for (let i = 0; i < 3000; i++) {
      const length = Math.floor(random() * 600);
      const input = Buffer.alloc(length);
      for (let j = 0; j < length; j++) input[j] = Math.floor(random() * 256);
      // Half of them get a plausible header so the decoder gets past the first checks.
      if (length >= 12 && i % 2 === 0) {
        input.writeUInt16BE(Math.floor(random() * 3), 4);
        input.writeUInt16BE(Math.floor(random() * 4), 6);
        input.writeUInt16BE(Math.floor(random() * 3), 8);
        input.writeUInt16BE(Math.floor(random() * 3), 10);
      }
      decodeSafely(input);
    }
  });

  it('survives 20000 mutations of valid messages, and TSIG checks of them throw only TsigError', () => {
    const random = prng(0xdecade);
    const bases = seeds();
    let decoded = 0;
    for (let i = 0; i < 20000; i++) {
      const input = mutate(bases[i % bases.length]!, random);
      const message = decodeSafely(input);
      if (message === undefined) continue;
      decoded++;
      if (message.tsig) {
        try {
          verifyMessage(input, message, key);
        } catch (error) {
          expect(error).toBeInstanceOf(TsigError);
        }
      }
    }
    // The mutations must not all be rejected at the header, or this test proves little.
    expect(decoded).toBeGreaterThan(1000);
  });

  it('bounds compression: long backward chains decode, names past 255 bytes are refused', () => {
    const ok = decodeMessage(questionChain(127));
    expect(ok.questions[126]!.name.split('.')).toHaveLength(127);
    expect(() => decodeMessage(questionChain(128))).toThrow(/longer than 255 bytes/);
  });
});
