import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOOPBACK = '127.0.0.1';

/**
 * A TCP port on `host` that was free a moment ago, picked below the kernel's ephemeral range.
 * A port from that range can be taken, between two runs of a test, by any outgoing connection on
 * the machine, and a keep-alive connection holds it for seconds: a test that listens on the same
 * port run after run (the standalone plugin on Pebble's http-01 port, 50 times in the crash test)
 * then failed with EADDRINUSE under a loaded full suite. Helpers that start daemons still retry
 * with new ports when two test files pick the same one.
 */
export async function freePort(host: string = LOOPBACK): Promise<number> {
  const range = portsOutsideEphemeralRange();
  if (range === undefined) return kernelPickedPort(host);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = randomInt(range.low, range.high + 1);
    if (await tcpPortIsFree(port, host)) return port;
  }
  return kernelPickedPort(host);
}

/** Ports no outgoing connection is given: between 10000 and the start of the ephemeral range, or above its end. */
function portsOutsideEphemeralRange(): { low: number; high: number } | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
  } catch {
    return undefined;
  }
  const [first, last] = text.trim().split(/\s+/).map(Number);
  if (first === undefined || last === undefined || !Number.isInteger(first) || !Number.isInteger(last))
    return undefined;
  if (first - 1 - 10_000 >= 5_000) return { low: 10_000, high: first - 1 };
  if (65_535 - (last + 1) >= 5_000) return { low: last + 1, high: 65_535 };
  return undefined;
}

function tcpPortIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function kernelPickedPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`could not read the port the kernel assigned on ${host}`));
        return;
      }
      server.close((error) => (error ? reject(error) : resolve(address.port)));
    });
  });
}

/** Whether UDP port `port` can be bound on `host` right now. */
export function udpPortIsFree(port: number, host: string = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.unref();
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.close(() => resolve(true));
    });
  });
}

/**
 * A port free for both TCP and UDP on `host`: DNS servers (challtestsrv, BIND) bind both
 * protocols on the same number, and the kernel's TCP pick says nothing about UDP.
 */
export async function freeDnsPort(host: string = LOOPBACK): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort(host);
    if (await udpPortIsFree(port, host)) return port;
  }
  throw new Error(`no port free for both TCP and UDP on ${host} after 20 attempts`);
}

/** `count` distinct free TCP ports (distinct even though each is released before the next pick). */
export async function freePorts(count: number, host: string = LOOPBACK): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempt = 0; ports.size < count; attempt++) {
    if (attempt > count * 10) throw new Error(`could not find ${count} distinct free ports on ${host}`);
    ports.add(await freePort(host));
  }
  return [...ports];
}
