/**
 * The main job, end to end on this machine: a local test CA (Pebble + challtestsrv on
 * 127.0.0.1), then the built acmecli registers, issues a certificate with its standalone
 * http-01 server, and renews it; the files are checked with openssl. Everything is stopped.
 *
 *   npm run demo
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startPebble } from '../test/helpers/pebble.js';
import { runCli } from '../test/helpers/cli.js';

function show(title: string, result: { exitCode: number | null; stdout: string; stderr: string }): void {
  process.stdout.write(`\n$ acmecli ${title}\n${result.stderr}${result.stdout}(exit ${result.exitCode})\n`);
  if (result.exitCode !== 0) throw new Error(`acmecli ${title} failed with exit code ${result.exitCode}`);
}

const pebble = await startPebble();
try {
  const configDir = await mkdtemp(join(tmpdir(), 'acmecli-demo-'));
  const common = ['--config-dir', configDir, '--server', pebble.directoryUrl, '--ca-bundle', pebble.caBundlePath];
  process.stdout.write(
    `Local test CA: ${pebble.directoryUrl} (Pebble ${pebble.version})\nConfig dir:    ${configDir}\n`,
  );

  show('register', await runCli([...common, 'register', '--email', 'admin@example.test', '--agree-tos']));
  const issueArgs = [
    'issue',
    '-d',
    'demo.example.test',
    '-d',
    'www.demo.example.test',
    '--standalone',
    '--http-port',
    String(pebble.httpPort),
  ];
  show(issueArgs.join(' '), await runCli([...common, ...issueArgs]));

  const certDir = join(configDir, 'certificates', 'demo.example.test');
  const certPath = join(certDir, 'cert.pem');
  const keyPath = join(certDir, 'privkey.pem');
  process.stdout.write(`\n$ openssl x509 -in ${certPath} -noout -subject -issuer -dates -ext subjectAltName\n`);
  process.stdout.write(
    execFileSync(
      'openssl',
      ['x509', '-in', certPath, '-noout', '-subject', '-issuer', '-dates', '-ext', 'subjectAltName'],
      { encoding: 'utf8' },
    ),
  );
  const certKey = execFileSync('openssl', ['x509', '-in', certPath, '-noout', '-pubkey'], { encoding: 'utf8' });
  const privKey = execFileSync('openssl', ['pkey', '-in', keyPath, '-pubout'], { encoding: 'utf8' });
  if (certKey !== privKey) throw new Error('the private key does not match the certificate');
  const mode = (await stat(keyPath)).mode & 0o777;
  process.stdout.write(`private key matches the certificate; privkey.pem mode ${mode.toString(8)}\n`);
  const chain = await readFile(join(certDir, 'fullchain.pem'), 'utf8');
  process.stdout.write(`fullchain.pem holds ${chain.match(/BEGIN CERTIFICATE/g)?.length ?? 0} certificates\n`);

  show('renew (nothing due)', await runCli([...common, 'renew']));
  show('renew --force', await runCli([...common, 'renew', '--force']));
  show('certificates', await runCli([...common, 'certificates']));
  process.stdout.write('\nDemo finished: a certificate was issued and renewed by the local test CA.\n');
} finally {
  await pebble.stop();
}
