/**
 * Child process of test/unit/acme/transport-trust.test.ts: NODE_EXTRA_CA_CERTS is read only when
 * Node starts, so the test needs a process of its own. One Transport with the given --ca-bundle,
 * one GET per URL; prints { url: status or error message } as JSON.
 */
import { readFileSync } from 'node:fs';
import { Transport } from '../../src/acme/transport.js';

const [bundlePath, ...urls] = process.argv.slice(2);
const transport = new Transport({
  caBundlePem: readFileSync(bundlePath as string, 'utf8'),
  connectTimeoutMs: 5_000,
  responseTimeoutMs: 5_000,
});
const results: Record<string, number | string> = {};
for (const url of urls) {
  try {
    results[url] = (await transport.request({ method: 'GET', url })).status;
  } catch (error) {
    results[url] = (error as Error).message;
  }
}
await transport.close();
console.log(JSON.stringify(results));
