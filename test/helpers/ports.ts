import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

const LOOPBACK = '127.0.0.1';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. The kernel picks it (port 0), so parallel
 * test files rarely collide; helpers that start daemons retry with new ports when one does.
 */
export function freePort(host: string = LOOPBACK): Promise<number> {
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
