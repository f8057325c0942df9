/**
 * Ctrl-C (SIGINT) and SIGTERM in the middle of an issuance: clean-up still runs, the pending
 * authorization is given up, nothing is written, and the exit code is 130.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import { spawnCli } from '../helpers/cli.js';
import { processIsAlive, waitUntil } from '../helpers/processes.js';

let ca: E2eCa;
beforeAll(async () => {
  ca = await startE2eCa();
});
afterAll(async () => {
  await ca?.stop();
});

describe.each(['SIGINT', 'SIGTERM'] as const)('%s during the auth hook', (signal) => {
  it('runs the cleanup hook, writes no certificate and exits 130', async () => {
    const dir = await ca.newConfigDir();
    const registered = await ca.run(dir, ['register', '--agree-tos']);
    expect(registered.exitCode, describeRun(registered)).toBe(0);
    const started = join(dir, 'auth-started');
    const authPid = join(dir, 'auth.pid');
    const cleaned = join(dir, 'cleanup-ran');
    const auth = join(dir, 'auth.sh');
    const cleanup = join(dir, 'cleanup.sh');
    // The auth hook records its pid and announces itself, then waits far longer than the test
    // (exec: the sleep keeps the pid; the run must kill it, not wait for it).
    await writeFile(auth, `#!/bin/sh\necho $$ > '${authPid}'\necho "$CERTBOT_DOMAIN" > '${started}'\nexec sleep 600\n`);
    await writeFile(cleanup, `#!/bin/sh\necho "$CERTBOT_DOMAIN $CERTBOT_VALIDATION" > '${cleaned}'\n`);
    await chmod(auth, 0o755);
    await chmod(cleanup, 0o755);
    const child = spawnCli([
      '--config-dir',
      dir,
      ...ca.serverArgs,
      'issue',
      '-d',
      'interrupted.example.test',
      '--manual',
      '--preferred-challenges',
      'dns-01',
      '--manual-auth-hook',
      auth,
      '--manual-cleanup-hook',
      cleanup,
      '--skip-dns-propagation-check',
    ]);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.resume();
    child.stdin.end();
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await waitUntil(() => existsSync(started), { timeoutMs: 30_000, what: 'the auth hook to start' });
    const hook = Number((await readFile(authPid, 'utf8')).trim());
    expect(processIsAlive(hook)).toBe(true);
    child.kill(signal);
    const code = await exited;
    expect(code, stderr).toBe(130);
    // The run killed the hook it was waiting for before it exited (and did not wait it out).
    expect(processIsAlive(hook)).toBe(false);
    expect((await readFile(cleaned, 'utf8')).startsWith('interrupted.example.test ')).toBe(true);
    expect(stderr).toContain(`${signal} received, cleaning up`);
    expect(existsSync(join(dir, 'certificates', 'interrupted.example.test'))).toBe(false);
  });
});
