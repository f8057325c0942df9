import { it } from 'vitest';
import { connect } from 'node:tls';
import { startTlsFront } from '../helpers/tls-front.js';
import { startPebble } from '../helpers/pebble.js';
it('scratch', async () => {
  const pebble = await startPebble();
  const front = await startTlsFront({ upstreamOrigin: new URL(pebble.directoryUrl).origin, upstreamCaPem: pebble.caBundlePem, ejbcaPaths: true });
  try {
    await new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: front.port, ca: front.serverCaPem });
      s.on('secureConnect', () => { console.log('secureConnect', s.getProtocol()); s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'); });
      s.on('data', (d) => console.log('data', d.toString()));
      s.on('error', (e: any) => console.log('error', e.code, e.message));
      s.on('end', () => console.log('end'));
      s.on('close', () => { console.log('close'); resolve(); });
    });
  } finally { await front.stop(); await pebble.stop(); }
});
