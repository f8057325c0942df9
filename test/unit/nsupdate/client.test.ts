/**
 * The UPDATE transport against small fake servers on 127.0.0.1: what BIND will not do on demand
 * (truncate, stay silent, answer with the wrong id or garbage, sign with the wrong secret).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortedError, PluginError } from '../../../src/errors.js';
import { freeDnsPort } from '../../helpers/ports.js';
import {
  UpdateRejectedError,
  formatServer,
  updateTxt,
  type UpdateTxtRequest,
} from '../../../plugins/nsupdate/client.js';
import {
  OPCODE,
  RCODE,
  RR_CLASS,
  RR_TYPE,
  decodeMessage,
  encodeMessage,
} from '../../../plugins/nsupdate/dns-message.js';
import { TsigKey, signMessage } from '../../../plugins/nsupdate/tsig.js';

const SECRET = Buffer.alloc(32, 0x5a);
const key = new TsigKey('test-key', 'hmac-sha256', SECRET);

type Reply = Buffer | 'silent' | Buffer[];

interface FakeServer {
  port: number;
  udpRequests: Buffer[];
  tcpRequests: Buffer[];
  close(): Promise<void>;
}

interface AnswerOptions {
  rcode?: number;
  tc?: boolean;
  signWith?: TsigKey | 'none';
  tsigError?: number;
  id?: number;
}

/** The answer a server would give to `request`. */
function answer(request: Buffer, options: AnswerOptions = {}): Buffer {
  const req = decodeMessage(request);
  const body = encodeMessage({
    id: options.id ?? req.header.id,
    opcode: OPCODE.UPDATE,
    qr: true,
    tc: options.tc ?? false,
    rcode: options.rcode ?? RCODE.NOERROR,
    questions: req.questions,
  });
  if (options.tsigError === RCODE.BADSIG || options.tsigError === RCODE.BADKEY) {
    // Unsigned TSIG with the error (RFC 8945 5.3.2).
    return encodeMessage({
      id: req.header.id,
      opcode: OPCODE.UPDATE,
      qr: true,
      rcode: RCODE.NOTAUTH,
      questions: req.questions,
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
              timeSigned: Math.floor(Date.now() / 1000),
              fudge: 300,
              mac: Buffer.alloc(0),
              originalId: req.header.id,
              error: options.tsigError,
              otherData: Buffer.alloc(0),
            },
          },
        },
      ],
    });
  }
  const signer = options.signWith ?? key;
  if (signer === 'none' || req.tsig === undefined) return body;
  return signMessage(body, signer, { requestMac: req.tsig.data.mac }).message;
}

const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function startFake(handlers: {
  udp?: (req: Buffer) => Reply;
  tcp?: (req: Buffer) => Reply;
}): Promise<FakeServer> {
  const port = await freeDnsPort();
  const udpRequests: Buffer[] = [];
  const tcpRequests: Buffer[] = [];
  const udp: UdpSocket = createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    udpRequests.push(msg);
    const reply = handlers.udp?.(msg) ?? 'silent';
    if (reply === 'silent') return;
    for (const datagram of Array.isArray(reply) ? reply : [reply]) udp.send(datagram, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => udp.bind(port, '127.0.0.1', resolve));
  const sockets = new Set<Socket>();
  const tcp: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 2 || buffer.length < 2 + buffer.readUInt16BE(0)) return;
      const msg = buffer.subarray(2, 2 + buffer.readUInt16BE(0));
      tcpRequests.push(msg);
      const reply = handlers.tcp?.(msg) ?? 'silent';
      if (reply === 'silent') return;
      for (const frame of Array.isArray(reply) ? reply : [reply]) {
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(frame.length);
        // Written in two pieces: the client must reassemble frames.
        socket.write(prefix);
        socket.write(frame);
      }
    });
  });
  await new Promise<void>((resolve) => tcp.listen(port, '127.0.0.1', resolve));
  const server: FakeServer = {
    port,
    udpRequests,
    tcpRequests,
    close: async () => {
      udp.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
  servers.push(server);
  return server;
}

function request(port: number, overrides: Partial<UpdateTxtRequest> = {}): UpdateTxtRequest {
  return {
    server: { host: '127.0.0.1', port },
    zone: 'example.test',
    changes: [{ action: 'add', name: '_acme-challenge.example.test', value: 'token-value', ttl: 60 }],
    key,
    timeoutMs: 4000,
    udpAttemptTimeoutMs: 100,
    signal: new AbortController().signal,
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    expect((error as Error).message).not.toContain(SECRET.toString('base64'));
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('nsupdate client transport', () => {
  it('sends a signed UPDATE over UDP and verifies the signed answer', async () => {
    const server = await startFake({ udp: (req) => answer(req) });
    const result = await updateTxt(request(server.port));
    expect(result.transport).toBe('udp');
    const sent = decodeMessage(server.udpRequests[0]!);
    expect(sent.header.opcode).toBe(OPCODE.UPDATE);
    expect(sent.tsig?.record.name).toBe('test-key');
  });

  it('retries over TCP when the UDP answer is truncated (TC)', async () => {
    const server = await startFake({ udp: (req) => answer(req, { tc: true }), tcp: (req) => answer(req) });
    const result = await updateTxt(request(server.port));
    expect(result).toMatchObject({ transport: 'tcp', tcpReason: 'truncated' });
    expect(server.tcpRequests).toHaveLength(1);
  });

  it('falls back to TCP after bounded UDP retries go unanswered', async () => {
    const server = await startFake({ udp: () => 'silent', tcp: (req) => answer(req) });
    const result = await updateTxt(request(server.port, { udpAttempts: 3, udpAttemptTimeoutMs: 50 }));
    // Exactly the configured UDP attempts, each timed out, then TCP.
    expect(result).toMatchObject({ transport: 'tcp', tcpReason: 'udp-timeout' });
    expect(server.udpRequests).toHaveLength(3);
    expect(server.tcpRequests).toHaveLength(1);
  });

  it('sends a request too large for UDP straight over TCP', async () => {
    const server = await startFake({ udp: (req) => answer(req), tcp: (req) => answer(req) });
    const result = await updateTxt(
      request(server.port, { changes: [{ action: 'add', name: 'big.example.test', value: 'x'.repeat(600), ttl: 60 }] }),
    );
    expect(result).toMatchObject({ transport: 'tcp', tcpReason: 'request-too-large' });
    expect(server.udpRequests).toHaveLength(0);
  });

  it('ignores stray datagrams (garbage, another id) and takes the real answer', async () => {
    const server = await startFake({
      udp: (req) => [
        Buffer.from('garbage'),
        answer(req, { id: (decodeMessage(req).header.id + 1) & 0xffff }),
        answer(req),
      ],
    });
    expect((await updateTxt(request(server.port))).transport).toBe('udp');
  });

  it('rejects REFUSED naming zone, server, rcode and key, never the secret', async () => {
    const server = await startFake({ udp: (req) => answer(req, { rcode: RCODE.REFUSED }) });
    const error = await rejection(updateTxt(request(server.port)));
    expect(error).toBeInstanceOf(UpdateRejectedError);
    expect(error.message).toBe(
      `nsupdate: adding TXT _acme-challenge.example.test in zone example.test at 127.0.0.1:${server.port} failed: ` +
        'the server answered REFUSED: key test-key may not update zone example.test (BIND: allow-update / update-policy)',
    );
  });

  it.each([
    [RCODE.NOTZONE, /answered NOTZONE: the record name is not inside zone example.test/],
    [RCODE.SERVFAIL, /answered SERVFAIL/],
    [RCODE.YXRRSET, /answered YXRRSET/],
    [RCODE.NOTAUTH, /answered NOTAUTH: .*check the TSIG key name\/secret\/algorithm/],
  ])('names rcode %i', async (rcode, pattern) => {
    const server = await startFake({ udp: (req) => answer(req, { rcode }) });
    expect((await rejection(updateTxt(request(server.port)))).message).toMatch(pattern);
  });

  it('reports BADSIG from the TSIG error field with key advice', async () => {
    const server = await startFake({ udp: (req) => answer(req, { tsigError: RCODE.BADSIG }) });
    const error = await rejection(updateTxt(request(server.port)));
    expect(error).toBeInstanceOf(UpdateRejectedError);
    expect(error.message).toMatch(
      /answered NOTAUTH; the server rejected the signature made with TSIG key test-key \(hmac-sha256\) \(BADSIG\): check the TSIG key name\/secret\/algorithm/,
    );
  });

  it('refuses an answer whose signature does not verify (not a rejection: the update may be applied)', async () => {
    const impostor = new TsigKey('test-key', 'hmac-sha256', Buffer.alloc(32, 1));
    const server = await startFake({ udp: (req) => answer(req, { signWith: impostor }) });
    const error = await rejection(updateTxt(request(server.port)));
    expect(error).toBeInstanceOf(PluginError);
    expect(error).not.toBeInstanceOf(UpdateRejectedError);
    expect(error.message).toMatch(/signature does not verify with key test-key/);
  });

  it('refuses an unsigned NOERROR answer to a signed request', async () => {
    const server = await startFake({ udp: (req) => answer(req, { signWith: 'none' }) });
    expect((await rejection(updateTxt(request(server.port)))).message).toMatch(/not TSIG-signed/);
  });

  it('sends unsigned updates when there is no key', async () => {
    const server = await startFake({ udp: (req) => answer(req) });
    await updateTxt(request(server.port, { key: undefined }));
    expect(decodeMessage(server.udpRequests[0]!).tsig).toBeUndefined();
  });

  it('stops on abort while waiting for an answer, not at its time limit', async () => {
    const controller = new AbortController();
    // Aborted once the request is in flight; the time limit would end it with another error.
    const server = await startFake({
      udp: () => {
        controller.abort();
        return 'silent';
      },
      tcp: () => 'silent',
    });
    const error = await rejection(updateTxt(request(server.port, { signal: controller.signal, timeoutMs: 10_000 })));
    expect(error).toBeInstanceOf(AbortedError);
    expect(server.udpRequests).toHaveLength(1);
    expect(server.tcpRequests).toHaveLength(0);
  });

  it('gives up within the time limit when neither UDP nor TCP answers', async () => {
    const server = await startFake({ udp: () => 'silent', tcp: () => 'silent' });
    const error = await rejection(updateTxt(request(server.port, { timeoutMs: 800, udpAttemptTimeoutMs: 100 })));
    // The message says which limits ended it: the UDP tries, then the overall time limit.
    expect(error.message).toMatch(/no UDP answer after 3 tries; no answer over TCP within/);
    expect(error.message).toContain(formatServer({ host: '127.0.0.1', port: server.port }));
    expect(server.udpRequests).toHaveLength(3);
  });

  it('reports a server that is not there at all', async () => {
    const port = await freeDnsPort();
    const error = await rejection(updateTxt(request(port, { timeoutMs: 1000 })));
    expect(error).toBeInstanceOf(PluginError);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect((error as PluginError).hint).toMatch(/--nsupdate-server/);
  });

  it('formats IPv6 servers in brackets', () => {
    expect(formatServer({ host: '::1', port: 53 })).toBe('[::1]:53');
    expect(formatServer({ host: 'ns1.example.com', port: 5353 })).toBe('ns1.example.com:5353');
  });
});
