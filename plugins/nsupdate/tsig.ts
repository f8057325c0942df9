/**
 * RFC 8945 TSIG: sign a request, verify the server's signed response. node:crypto does the HMAC;
 * this file only lays out the bytes the HMAC covers (RFC 8945 4.3.3) and checks the answer.
 *
 * The secret lives in a private field of `TsigKey`, so no error message, log line, `JSON.stringify`
 * or `util.inspect` of a key can ever show it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { PluginError } from '../../src/errors.js';
import {
  RCODE,
  RR_CLASS,
  RR_TYPE,
  encodeName,
  encodeRecord,
  normalizeName,
  rcodeName,
  u48,
  type DnsMessage,
} from './dns-message.js';

export type TsigAlgorithm = 'hmac-sha1' | 'hmac-sha224' | 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';

const ALGORITHMS: Readonly<Record<TsigAlgorithm, { hash: string; size: number }>> = {
  'hmac-sha1': { hash: 'sha1', size: 20 },
  'hmac-sha224': { hash: 'sha224', size: 28 },
  'hmac-sha256': { hash: 'sha256', size: 32 },
  'hmac-sha384': { hash: 'sha384', size: 48 },
  'hmac-sha512': { hash: 'sha512', size: 64 },
};
export const TSIG_ALGORITHMS = Object.keys(ALGORITHMS) as readonly TsigAlgorithm[];

/** Seconds of clock skew either way the signature stays valid (RFC 8945 10 recommends 300). */
export const DEFAULT_FUDGE = 300;

/** `hmac-sha256`, `HMAC-SHA256.`, ... → the algorithm; undefined when unsupported. */
export function parseTsigAlgorithm(text: string): TsigAlgorithm | undefined {
  const name = normalizeName(text.trim());
  return Object.hasOwn(ALGORITHMS, name) ? (name as TsigAlgorithm) : undefined;
}

/** Why an algorithm name is refused, in words a BIND user recognises. */
export function unsupportedAlgorithmReason(text: string): string {
  const name = normalizeName(text.trim());
  if (name.startsWith('hmac-md5')) return `TSIG algorithm "${text}" (HMAC-MD5) is not supported; use hmac-sha256`;
  if (/^hmac-sha\d+-\d+$/.test(name)) {
    return `truncated TSIG algorithm "${text}" is not supported; use the untruncated ${name.replace(/-\d+$/, '')}`;
  }
  return `unknown TSIG algorithm "${text}" (supported: ${TSIG_ALGORITHMS.join(', ')})`;
}

export class TsigKey {
  /** Canonical: lowercase, no trailing dot (RFC 8945 4.3.3 signs the canonical wire form). */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly #secret: Buffer;

  constructor(name: string, algorithm: TsigAlgorithm, secret: Buffer) {
    this.name = normalizeName(name);
    encodeName(this.name); // throws DnsMessageError on an illegal name
    if (this.name === '.') throw new PluginError('a TSIG key name cannot be the root');
    this.algorithm = algorithm;
    if (secret.length === 0) throw new PluginError(`TSIG key "${this.name}" has an empty secret`);
    this.#secret = Buffer.from(secret);
  }

  /** HMAC of `data` with this key's algorithm. */
  hmac(data: Buffer): Buffer {
    return createHmac(ALGORITHMS[this.algorithm].hash, this.#secret).update(data).digest();
  }

  get macSize(): number {
    return ALGORITHMS[this.algorithm].size;
  }

  /** Same key (for key-file look-ups and tests) without exposing either secret. */
  sameAs(other: TsigKey): boolean {
    return (
      this.name === other.name &&
      this.algorithm === other.algorithm &&
      this.#secret.length === other.#secret.length &&
      timingSafeEqual(this.#secret, other.#secret)
    );
  }

  toString(): string {
    return `${this.name} (${this.algorithm})`;
  }

  toJSON(): { name: string; algorithm: TsigAlgorithm } {
    return { name: this.name, algorithm: this.algorithm };
  }

  [inspect.custom](): string {
    return `TsigKey { name: '${this.name}', algorithm: '${this.algorithm}', secret: <redacted> }`;
  }
}

/** Strict base64 (BIND's own alphabet; whitespace inside is allowed as BIND allows it). */
export function decodeBase64Secret(text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    return undefined;
  }
  return Buffer.from(compact, 'base64');
}

export type TsigErrorCode = 'BADSIG' | 'BADKEY' | 'BADTIME' | 'BADTRUNC' | 'UNSIGNED' | 'OTHER';

/**
 * A TSIG failure. `origin: 'server'` is the server's verdict on our request (the TSIG error field
 * of its answer); `origin: 'client'` is our verdict on its response.
 */
export class TsigError extends PluginError {
  constructor(
    message: string,
    readonly code: TsigErrorCode,
    readonly origin: 'server' | 'client',
    options?: { hint?: string; cause?: unknown },
  ) {
    super(message, options);
  }
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

interface TsigVariables {
  keyName: string;
  class: number;
  ttl: number;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  error: number;
  otherData: Buffer;
}

/** RFC 8945 4.3.3: the TSIG variables, names in canonical (lowercase, uncompressed) form. */
function encodeVariables(v: TsigVariables): Buffer {
  const ttl = Buffer.alloc(4);
  ttl.writeUInt32BE(v.ttl >>> 0);
  return Buffer.concat([
    encodeName(v.keyName, { lowercase: true }),
    u16(v.class),
    ttl,
    encodeName(v.algorithm, { lowercase: true }),
    u48(v.timeSigned),
    u16(v.fudge),
    u16(v.error),
    u16(v.otherData.length),
    v.otherData,
  ]);
}

function macPrefix(requestMac: Buffer | undefined): Buffer {
  return requestMac === undefined ? Buffer.alloc(0) : Buffer.concat([u16(requestMac.length), requestMac]);
}

export interface TsigSignOptions {
  /** Milliseconds since the epoch; defaults to Date.now() (tests pin it). */
  now?: number;
  fudge?: number;
  /** When signing a response (test servers): the MAC of the request it answers. */
  requestMac?: Buffer;
  /** TSIG error field of a response (BADTIME...); 0 for requests. */
  error?: number;
  otherData?: Buffer;
}

export interface SignedMessage {
  message: Buffer;
  /** Needed to verify the response (RFC 8945 5.3: the request MAC is prepended). */
  mac: Buffer;
}

/** Appends a TSIG record to an unsigned, fully encoded message (normally our request). */
export function signMessage(message: Buffer, key: TsigKey, options: TsigSignOptions = {}): SignedMessage {
  if (message.length < 12) throw new PluginError('cannot sign a DNS message shorter than its header');
  const arcount = message.readUInt16BE(10);
  if (arcount === 0xffff) throw new PluginError('cannot sign: additional section is full');
  const timeSigned = Math.floor((options.now ?? Date.now()) / 1000);
  const fudge = options.fudge ?? DEFAULT_FUDGE;
  const variables: TsigVariables = {
    keyName: key.name,
    class: RR_CLASS.ANY,
    ttl: 0,
    algorithm: key.algorithm,
    timeSigned,
    fudge,
    error: options.error ?? 0,
    otherData: options.otherData ?? Buffer.alloc(0),
  };
  const mac = key.hmac(Buffer.concat([macPrefix(options.requestMac), message, encodeVariables(variables)]));
  const record = encodeRecord(
    {
      name: key.name,
      type: RR_TYPE.TSIG,
      class: RR_CLASS.ANY,
      ttl: 0,
      data: {
        kind: 'tsig',
        tsig: {
          algorithm: key.algorithm,
          timeSigned,
          fudge,
          mac,
          originalId: message.readUInt16BE(0),
          error: variables.error,
          otherData: variables.otherData,
        },
      },
    },
    { lowercaseName: true },
  );
  const signed = Buffer.concat([message, record]);
  signed.writeUInt16BE(arcount + 1, 10);
  return { message: signed, mac };
}

export interface TsigVerifyOptions {
  /** MAC of the request this message answers; absent when verifying a request. */
  requestMac?: Buffer;
  /** Milliseconds since the epoch; defaults to Date.now(). */
  now?: number;
}

const KEY_HINT = 'check the TSIG key name/secret/algorithm';

/**
 * Verifies the TSIG of `raw` (already decoded as `decoded`) with `key`. Returns normally only when
 * the message is signed by `key`, the MAC matches, the time is within the fudge and the TSIG error
 * field is 0. Throws TsigError otherwise.
 */
export function verifyMessage(raw: Buffer, decoded: DnsMessage, key: TsigKey, options: TsigVerifyOptions = {}): void {
  const tsig = decoded.tsig;
  if (tsig === undefined) {
    throw new TsigError(`the answer is not TSIG-signed (expected key ${key})`, 'UNSIGNED', 'client');
  }
  const { data, record, offset } = tsig;
  const serverError = data.error;
  // RFC 8945 5.3.2: BADSIG and BADKEY answers carry no MAC; there is nothing to verify.
  if (serverError === RCODE.BADSIG || serverError === RCODE.BADKEY) {
    const what =
      serverError === RCODE.BADSIG
        ? `the server rejected the signature made with TSIG key ${key} (BADSIG)`
        : `the server does not know TSIG key ${key} (BADKEY)`;
    throw new TsigError(`${what}: ${KEY_HINT}`, rcodeName(serverError) as TsigErrorCode, 'server');
  }
  if (normalizeName(record.name) !== key.name) {
    throw new TsigError(
      `the answer is signed with TSIG key "${normalizeName(record.name)}", not "${key.name}"`,
      'BADKEY',
      'client',
    );
  }
  if (normalizeName(data.algorithm) !== key.algorithm) {
    throw new TsigError(
      `the answer is signed with algorithm "${normalizeName(data.algorithm)}", not ${key.algorithm}`,
      'BADKEY',
      'client',
    );
  }
  const full = key.macSize;
  // RFC 8945 5.2.2.1: a truncated MAC keeps at least half the hash and at least 10 bytes.
  if (data.mac.length > full || data.mac.length < Math.max(10, full / 2)) {
    throw new TsigError(`the answer's TSIG MAC has an invalid length (${data.mac.length} bytes)`, 'BADTRUNC', 'client');
  }
  const unsigned = Buffer.from(raw.subarray(0, offset));
  unsigned.writeUInt16BE(data.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const expected = key
    .hmac(
      Buffer.concat([
        macPrefix(options.requestMac),
        unsigned,
        encodeVariables({
          keyName: record.name,
          class: record.class,
          ttl: record.ttl,
          algorithm: data.algorithm,
          timeSigned: data.timeSigned,
          fudge: data.fudge,
          error: data.error,
          otherData: data.otherData,
        }),
      ]),
    )
    .subarray(0, data.mac.length);
  if (!timingSafeEqual(expected, data.mac)) {
    throw new TsigError(`the answer's TSIG signature does not verify with key ${key}: ${KEY_HINT}`, 'BADSIG', 'client');
  }
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (serverError === RCODE.BADTIME) {
    const serverTime = data.otherData.length === 6 ? data.otherData.readUIntBE(0, 6) : undefined;
    const skew =
      serverTime === undefined
        ? ''
        : ` (server clock ${new Date(serverTime * 1000).toISOString()}, ours ${new Date(nowSeconds * 1000).toISOString()})`;
    throw new TsigError(
      `the server rejected the request time (BADTIME): clocks differ by more than ${data.fudge} s${skew}`,
      'BADTIME',
      'server',
      { hint: "synchronise this machine's clock (NTP) with the DNS server" },
    );
  }
  if (serverError !== 0) {
    throw new TsigError(`the server reported TSIG error ${rcodeName(serverError)} for key ${key}`, 'OTHER', 'server');
  }
  if (Math.abs(nowSeconds - data.timeSigned) > data.fudge) {
    throw new TsigError(
      `the answer's TSIG time is ${Math.abs(nowSeconds - data.timeSigned)} s away from our clock (fudge ${data.fudge} s)`,
      'BADTIME',
      'client',
      { hint: "synchronise this machine's clock (NTP) with the DNS server" },
    );
  }
}
