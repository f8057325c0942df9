/**
 * Child process of test/unit/acme/transport-trust.test.ts: NODE_EXTRA_CA_CERTS is read only when
 * Node starts, so the test needs a process of its own. One GET per URL through a Transport with the
 * given --ca-bundle and one through a Transport without any; prints
 * { withBundle: { url: status or error message }, withoutBundle: { ... } } as JSON.
 */
import { readFileSync } from 'node:fs';
import { Transport, type TransportOptions } from '../../src/acme/transport.js';

const [bundlePath, ...urls] = process.argv.slice(2);

async function statuses(options: TransportOptions): Promise<Record<string, number | string>> {
  const transport = new Transport({ ...options, connectTimeoutMs: 5_000, responseTimeoutMs: 5_000 });
  const results: Record<string, number | string> = {};
  try {
    for (const url of urls) {
      try {
        results[url] = (await transport.request({ method: 'GET', url })).status;
      } catch (error) {
        results[url] = (error as Error).message;
      }
    }
  } finally {
    await transport.close();
  }
  return results;
}

const withBundle = await statuses({ caBundlePem: readFileSync(bundlePath as string, 'utf8') });
const withoutBundle = await statuses({});
console.log(JSON.stringify({ withBundle, withoutBundle }));
