/**
 * Sends RFC 2136 UPDATE messages the way nsupdate does: UDP first, TCP when the answer is
 * truncated (TC), when the request is too big for a plain UDP datagram, or when UDP stays silent
 * after a few bounded retries. Everything is bounded by one deadline and cancelled by the signal.
 *
 * Errors are PluginErrors that name the zone, the server and the response code, and say what to
 * check; the TSIG secret never appears (TsigKey cannot print it).
 */
import { randomInt } from 'node:crypto';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect, isIP, type Socket as TcpSocket } from 'node:net';
import { AbortedError, PluginError, messageOf, throwIfAborted } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/output/logger.js';
import { dnsPromises } from '../../src/challenges/dns01/lookup.js';
import {
  DnsMessageError,
  OPCODE,
  RCODE,
  decodeMessage,
  encodeTxtUpdate,
  namesEqual,
  rcodeName,
  type DnsMessage,
  type TxtChange,
} from './dns-message.js';
import { TsigError, signMessage, verifyMessage, type TsigKey } from './tsig.js';

export interface ServerAddress {
  /** Host name or IP literal (IPv6 without brackets). */
  host: string;
  port: number;
}

/** `127.0.0.1:53`, `[::1]:53`, `ns1.example.com:53`. */
export function formatServer(server: ServerAddress): string {
  return isIP(server.host) === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** RFC 1035 4.2.1: without EDNS a UDP DNS message is at most 512 bytes. */
export const MAX_UDP_REQUEST = 512;
export const DEFAULT_UDP_ATTEMPTS = 3;
export const DEFAULT_UDP_ATTEMPT_TIMEOUT_MS = 1000;
const MAX_TCP_MESSAGE = 0xffff;

export type Transport = 'udp' | 'tcp';

export interface UpdateTxtRequest {
  server: ServerAddress;
  zone: string;
  changes: readonly TxtChange[];
  /** Absent: unsigned update (servers allowing updates by address). */
  key?: TsigKey;
  /** The whole exchange, UDP retries and TCP fallback included. */
  timeoutMs: number;
  signal: AbortSignal;
  log?: Logger;
  /** `tcp` skips UDP; `auto` (default) is UDP first with TCP fallback. */
  transport?: 'auto' | 'tcp';
  udpAttempts?: number;
  /** First UDP wait; doubles each retry. The UDP phase never uses more than half the deadline. */
  udpAttemptTimeoutMs?: number;
  /** Milliseconds since the epoch, for TSIG (tests pin it). */
  now?: () => number;
}

export interface UpdateTxtResult {
  transport: Transport;
  /** Why TCP was used, when it was. */
  tcpReason?: 'forced' | 'request-too-large' | 'truncated' | 'udp-timeout' | 'udp-error';
  elapsedMs: number;
}

type Accept = (raw: Buffer) => DnsMessage | undefined;

/**
 * The server answered, and said no (an rcode other than NOERROR, or a TSIG error): the update was
 * certainly not applied. Other failures (timeouts, a response that does not verify) leave that
 * open, which is why callers tell the two apart.
 */
export class UpdateRejectedError extends PluginError {
  constructor(
    message: string,
    /** Response code name: REFUSED, NOTAUTH, ...; the TSIG error name for TSIG failures. */
    readonly rcode: string,
    options?: { hint?: string; cause?: unknown },
  ) {
    super(message, options);
  }
}

function describeChanges(changes: readonly TxtChange[]): string {
  const first = changes[0];
  if (changes.length === 1 && first) {
    return `${first.action === 'add' ? 'adding' : 'deleting'} TXT ${first.name}`;
  }
  return `${changes.length} TXT changes`;
}

function abortError(signal: AbortSignal): AbortedError {
  return new AbortedError('cancelled', { cause: signal.reason });
}

/** The address to send to: IP literals as they are, names through the system resolver. */
export async function resolveHost(
  server: ServerAddress,
  signal: AbortSignal,
): Promise<{ address: string; family: 4 | 6 }> {
  const family = isIP(server.host);
  if (family === 4 || family === 6) return { address: server.host, family };
  // getaddrinfo cannot be cancelled; racing it with the signal keeps Ctrl-C prompt.
  let onAbort: (() => void) | undefined;
  try {
    const result = await Promise.race([
      dnsPromises().lookup(server.host),
      new Promise<never>((_, reject) => {
        onAbort = () => reject(abortError(signal));
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    return { address: result.address, family: result.family === 6 ? 6 : 4 };
  } catch (error) {
    if (error instanceof AbortedError) throw error;
    throw new PluginError(`nsupdate: cannot resolve server name ${server.host} (${messageOf(error)})`, {
      cause: error,
    });
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

type UdpOutcome =
  | { kind: 'answer'; raw: Buffer; message: DnsMessage }
  | { kind: 'truncated' }
  | { kind: 'timeout' }
  | { kind: 'error'; error: Error };

/**
 * One UDP socket, connected (so only the server's datagrams arrive), the same request re-sent on
 * each attempt; a late answer to an earlier attempt is as good as any.
 */
function exchangeUdp(
  target: { address: string; family: 4 | 6; port: number },
  request: Buffer,
  attempts: readonly number[],
  accept: Accept,
  signal: AbortSignal,
): Promise<UdpOutcome> {
  return new Promise<UdpOutcome>((resolve, reject) => {
    const socket: UdpSocket = process
      .getBuiltinModule('node:dgram')
      .createSocket(target.family === 6 ? 'udp6' : 'udp4');
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    let attempt = 0;
    const finish = (outcome: UdpOutcome | Error): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.close();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const onAbort = (): void => finish(abortError(signal));
    const sendNext = (): void => {
      const wait = attempts[attempt++];
      if (wait === undefined) {
        finish({ kind: 'timeout' });
        return;
      }
      socket.send(request, (error) => {
        if (error) finish({ kind: 'error', error });
      });
      timer = setTimeout(sendNext, wait);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (error) => finish({ kind: 'error', error }));
    socket.on('message', (raw) => {
      // Anything that is not our answer is ignored: a stray or forged datagram must not end the wait.
      const message = accept(raw);
      if (message === undefined) return;
      finish(message.header.tc ? { kind: 'truncated' } : { kind: 'answer', raw, message });
    });
    socket.connect(target.port, target.address, () => {
      if (!done) sendNext();
    });
  });
}

/** Length-prefixed exchange over one TCP connection (RFC 1035 4.2.2). */
function exchangeTcp(
  target: { address: string; port: number },
  request: Buffer,
  timeoutMs: number,
  expectedId: number,
  signal: AbortSignal,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const socket: TcpSocket = connect({ host: target.address, port: target.port });
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (result: Buffer | Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onAbort = (): void => finish(abortError(signal));
    const timer = setTimeout(
      () => finish(new PluginError(`no answer over TCP within ${Math.round(timeoutMs / 100) / 10} s`)),
      Math.max(1, timeoutMs),
    );
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(request.length);
      socket.write(Buffer.concat([prefix, request]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      while (received.length >= 2) {
        const length = received.readUInt16BE(0);
        if (received.length < 2 + length) return;
        const frame = received.subarray(2, 2 + length);
        received = received.subarray(2 + length);
        // A TCP answer with another id is a broken server, but the next frame may still be ours.
        if (frame.length >= 2 && frame.readUInt16BE(0) === expectedId) {
          finish(Buffer.from(frame));
          return;
        }
      }
      if (received.length > MAX_TCP_MESSAGE + 2) finish(new PluginError('oversized TCP answer'));
    });
    socket.on('end', () => finish(new PluginError('the server closed the TCP connection without answering')));
    socket.on('error', (error) => finish(new PluginError(`TCP: ${messageOf(error)}`, { cause: error })));
  });
}

/**
 * Sends one UPDATE with `changes` to `server` for `zone` and checks the answer (id, opcode, zone,
 * TSIG, rcode). Resolves only on NOERROR.
 */
export async function updateTxt(request: UpdateTxtRequest): Promise<UpdateTxtResult> {
  const { server, zone, changes, key, signal } = request;
  const log = request.log ?? silentLogger;
  const started = Date.now();
  const deadline = started + request.timeoutMs;
  const serverText = formatServer(server);
  const what = `nsupdate: ${describeChanges(changes)} in zone ${zone} at ${serverText}`;
  throwIfAborted(signal);

  const id = randomInt(0, 0x10000);
  const unsigned = encodeTxtUpdate({ id, zone, changes });
  const signed = key ? signMessage(unsigned, key, { now: request.now?.() }) : undefined;
  const wire = signed?.message ?? unsigned;
  const target = { ...(await resolveHost(server, signal)), port: server.port };

  const accept: Accept = (raw) => {
    let message: DnsMessage;
    try {
      message = decodeMessage(raw);
    } catch (error) {
      if (error instanceof DnsMessageError) {
        log.debug(`${what}: ignoring a malformed UDP answer (${error.message})`);
        return undefined;
      }
      throw error;
    }
    if (message.header.id !== id || !message.header.qr || message.header.opcode !== OPCODE.UPDATE) return undefined;
    const echoed = message.questions[0];
    if (echoed !== undefined && !namesEqual(echoed.name, zone)) return undefined;
    return message;
  };

  let transport: Transport = 'udp';
  let tcpReason: UpdateTxtResult['tcpReason'];
  let answer: { raw: Buffer; message: DnsMessage } | undefined;
  let udpProblem = '';
  if (request.transport === 'tcp') tcpReason = 'forced';
  else if (wire.length > MAX_UDP_REQUEST) tcpReason = 'request-too-large';
  else {
    const attempts: number[] = [];
    let budget = request.timeoutMs / 2;
    let wait = request.udpAttemptTimeoutMs ?? DEFAULT_UDP_ATTEMPT_TIMEOUT_MS;
    for (let i = 0; i < (request.udpAttempts ?? DEFAULT_UDP_ATTEMPTS) && budget > 0; i++) {
      attempts.push(Math.max(1, Math.min(wait, budget)));
      budget -= wait;
      wait *= 2;
    }
    const outcome = await exchangeUdp(target, wire, attempts, accept, signal);
    if (outcome.kind === 'answer') answer = outcome;
    else if (outcome.kind === 'truncated') tcpReason = 'truncated';
    else if (outcome.kind === 'timeout') {
      tcpReason = 'udp-timeout';
      udpProblem = `no UDP answer after ${attempts.length} tries`;
    } else {
      tcpReason = 'udp-error';
      udpProblem = `UDP: ${messageOf(outcome.error)}`;
    }
  }

  if (answer === undefined) {
    transport = 'tcp';
    log.debug(`${what}: using TCP (${tcpReason})`);
    let raw: Buffer;
    try {
      raw = await exchangeTcp(target, wire, deadline - Date.now(), id, signal);
    } catch (error) {
      if (error instanceof AbortedError) throw error;
      const parts = [udpProblem, messageOf(error)].filter((p) => p !== '');
      throw new PluginError(`${what} failed: ${parts.join('; ')}`, {
        cause: error,
        hint: 'check --nsupdate-server (host and port) and that the server accepts DNS over UDP and TCP',
      });
    }
    let message: DnsMessage;
    try {
      message = decodeMessage(raw);
    } catch (error) {
      throw new PluginError(`${what} failed: malformed answer (${messageOf(error)})`, { cause: error });
    }
    if (!message.header.qr || message.header.opcode !== OPCODE.UPDATE) {
      throw new PluginError(`${what} failed: the answer is not an UPDATE response`);
    }
    answer = { raw, message };
  }

  checkAnswer(answer.raw, answer.message, { what, zone, serverText, key, requestMac: signed?.mac, now: request.now });
  const elapsedMs = Date.now() - started;
  log.debug(`${what}: NOERROR over ${transport.toUpperCase()} in ${elapsedMs} ms`);
  const result: UpdateTxtResult = { transport, elapsedMs };
  if (tcpReason) result.tcpReason = tcpReason;
  return result;
}

const KEY_ADVICE = 'check the TSIG key name/secret/algorithm';

function rcodeAdvice(rcode: number, zone: string, key: TsigKey | undefined): string {
  switch (rcode) {
    case RCODE.NOTAUTH:
      return `the server is not authoritative for zone ${zone} or rejected the key: ${KEY_ADVICE}`;
    case RCODE.REFUSED:
      return key
        ? `key ${key.name} may not update zone ${zone} (BIND: allow-update / update-policy)`
        : `the server refuses unsigned updates to zone ${zone}; configure a TSIG key`;
    case RCODE.NOTZONE:
      return `the record name is not inside zone ${zone}; check --nsupdate-zone`;
    case RCODE.SERVFAIL:
      return 'the server failed to apply the update; see its log';
    case RCODE.NOTIMP:
      return 'the server does not support dynamic updates (RFC 2136)';
    case RCODE.FORMERR:
      return 'the server could not parse the update';
    case RCODE.YXDOMAIN:
    case RCODE.YXRRSET:
    case RCODE.NXDOMAIN:
    case RCODE.NXRRSET:
      return 'an update prerequisite failed';
    default:
      return 'the update was not applied';
  }
}

function checkAnswer(
  raw: Buffer,
  message: DnsMessage,
  context: {
    what: string;
    zone: string;
    serverText: string;
    key: TsigKey | undefined;
    requestMac: Buffer | undefined;
    now: (() => number) | undefined;
  },
): void {
  const { what, zone, key } = context;
  const rcode = message.rcode;
  let unsignedNote = '';
  if (key) {
    try {
      verifyMessage(raw, message, key, { requestMac: context.requestMac, now: context.now?.() });
    } catch (error) {
      if (!(error instanceof TsigError)) throw error;
      if (error.origin === 'server') {
        throw new UpdateRejectedError(
          `${what} failed: the server answered ${rcodeName(rcode)}; ${error.message}`,
          error.code,
          {
            cause: error,
            ...(error.hint ? { hint: error.hint } : {}),
          },
        );
      }
      // An unsigned error answer (e.g. FORMERR from a server without TSIG) still says what failed.
      if (error.code !== 'UNSIGNED' || rcode === RCODE.NOERROR) {
        throw new PluginError(`${what} failed: ${error.message}`, { cause: error });
      }
      unsignedNote = ' (unsigned answer)';
    }
  }
  if (rcode !== RCODE.NOERROR) {
    const tsigError = message.tsig?.data.error;
    const tsigNote = tsigError ? `, TSIG ${rcodeName(tsigError)}` : '';
    throw new UpdateRejectedError(
      `${what} failed: the server answered ${rcodeName(rcode)}${tsigNote}${unsignedNote}: ${rcodeAdvice(rcode, zone, key)}`,
      rcodeName(rcode),
    );
  }
}
