/**
 * Two runs on the same certificate at once, through the built CLI against Pebble. The first run
 * is held inside its manual auth hook (it holds the locks and is mid-order) until the test
 * releases it through a FIFO, so the overlap is certain rather than timed. Expected (see
 * src/store/lock.ts and operations/renew.ts): a second `issue` fails at once with exit 6 naming
 * the holder's pid and writes nothing; a second `renew` waits, says for whom, and renews after.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdir, open, readFile, readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { basename, join } from 'node:path';
import { runCli, spawnCli } from '../helpers/cli.js';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import {
  lockFiles,
  readArchive,
  readFileSet,
  renamePoints,
  runCliFrozenAtSyscall,
  runCliKilledAtSyscall,
  setProblems,
  straceAvailable,
  tempFilesUnder,
  traceRun,
} from '../helpers/crash.js';
import { processIsAlive } from '../helpers/processes.js';

let ca: E2eCa;
let roots: string[];
let webroot: string;
let server: Server;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // No authorization reuse: every order must run the auth hook, which is where a run is held.
  ca = await startE2eCa({ env: { PEBBLE_AUTHZREUSE: '0' } });
  roots = await ca.pebble.rootCertificates();
  webroot = join(await ca.newConfigDir(), 'webroot');
  await mkdir(webroot);
  // The web server Pebble validates http-01 against; the auth hook writes the answers here.
  server = createServer(async (req, res) => {
    try {
      res.end(await readFile(join(webroot, basename(req.url ?? ''))));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ca.pebble.httpPort, '127.0.0.1', () => resolve());
  });
});

afterEach(() => {
  // A failed test must not leave a held run behind.
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await ca?.stop();
});

/** A pair of FIFOs: the hook says it was reached, then blocks until the test lets it go on. */
class Gate {
  readonly ready: string;
  readonly go: string;

  constructor(dir: string) {
    this.ready = join(dir, 'ready.fifo');
    this.go = join(dir, 'go.fifo');
    execFileSync('mkfifo', [this.ready, this.go]);
  }

  /** The auth hook: report the name, wait, then publish the answer (values from the environment). */
  hook(): string {
    return `echo "$CERTBOT_DOMAIN" > '${this.ready}' && cat '${this.go}' > /dev/null && printf %s "$CERTBOT_VALIDATION" > '${webroot}/'"$CERTBOT_TOKEN"`;
  }

  /** Resolves with the domain once a run's hook is waiting; rejects if `run` exits first. */
  async reached(run: Run): Promise<string> {
    const reading = readFile(this.ready, 'utf8');
    const outcome = await Promise.race([reading.then((text) => ({ text })), run.exited.then((code) => ({ code }))]);
    if ('code' in outcome) {
      // Unblock our own pending open of the FIFO, so no thread stays stuck on it.
      closeSync(openSync(this.ready, constants.O_WRONLY | constants.O_NONBLOCK));
      await reading.catch(() => undefined);
      throw new Error(`the run exited (${outcome.code}) before its hook was reached\n${run.stderr}`);
    }
    return outcome.text.trim();
  }

  /** Lets the waiting hook go on (the open blocks until the hook's `cat` reads). */
  async release(): Promise<void> {
    const handle = await open(this.go, 'w');
    await handle.write('go\n');
    await handle.close();
  }

  /** For a run already past what the test checks: lets its hook go on if the run reaches it. */
  async releaseIfReached(run: Run): Promise<void> {
    if (
      await this.reached(run).then(
        () => true,
        () => false,
      )
    )
      await this.release();
  }
}

// Pebble reuses a valid authorization about 1% of the time even with PEBBLE_AUTHZREUSE=0 (it makes
// a new one only when rand.Intn(100) > percent, and refuses negative percentages), and a run that
// reuses one never reaches its auth hook.
const HELD_START_ATTEMPTS = 5;

/**
 * Starts a run that must stop in its auth hook. A run that reused an authorization finishes
 * normally instead (one more version) and is started again, a bounded number of times.
 */
async function startHeld(dir: string, gate: Gate, args: readonly string[]): Promise<{ run: Run; unheld: number }> {
  for (let unheld = 0; unheld < HELD_START_ATTEMPTS; unheld++) {
    const run = start(dir, args);
    try {
      await gate.reached(run);
      return { run, unheld };
    } catch (error) {
      if ((await run.exited) !== 0) throw error;
    }
  }
  throw new Error(`${HELD_START_ATTEMPTS} runs in a row reused an authorization and never reached the hook`);
}

/** The archive after `total` versions: the newest 5 are kept. */
function keptVersions(total: number): number[] {
  const kept = Math.min(total, 5);
  return Array.from({ length: kept }, (_, index) => total - kept + 1 + index);
}

interface Run {
  child: ChildProcess;
  pid: number;
  readonly stderr: string;
  readonly stdout: string;
  exited: Promise<number | null>;
  /** Resolves once stderr holds `text`; rejects if the run exits first. */
  stderrIncludes(text: string): Promise<void>;
}

function start(dir: string, args: readonly string[]): Run {
  const child = spawnCli(['--config-dir', dir, ...ca.serverArgs, ...args]);
  children.push(child);
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  const watchers: Array<() => void> = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const watcher of watchers) watcher();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    pid: child.pid as number,
    get stderr() {
      return stderr;
    },
    get stdout() {
      return stdout;
    },
    exited,
    stderrIncludes: (text) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stderr.includes(text)) resolve();
        };
        watchers.push(check);
        check();
        void exited.then((code) =>
          reject(new Error(`exited (${code}) without printing ${JSON.stringify(text)}\n${stderr}`)),
        );
      }),
  };
}

function manual(gate: Gate): string[] {
  return ['--manual', '--preferred-challenges', 'http-01', '--manual-auth-hook', gate.hook()];
}

/** An auth hook that publishes at once (no gate). */
function publishing(): string[] {
  return [
    '--manual',
    '--preferred-challenges',
    'http-01',
    '--manual-auth-hook',
    `printf %s "$CERTBOT_VALIDATION" > '${webroot}/'"$CERTBOT_TOKEN"`,
  ];
}

async function registered(): Promise<string> {
  const dir = await ca.newConfigDir();
  const result = await ca.run(dir, ['register', '--agree-tos']);
  expect(result.exitCode, describeRun(result)).toBe(0);
  return dir;
}

/** Every file under `dir` with its content, to prove a run wrote nothing. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: Record<string, string> = {};
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    files[path.slice(dir.length + 1)] = entry.isFile() ? await readFile(path, 'base64') : '<dir>';
  }
  return files;
}

async function expectConsistent(dir: string, certName: string, versions: number[]): Promise<void> {
  const lineage = join(dir, 'certificates', certName);
  expect(setProblems(await readFileSet(lineage), roots)).toEqual([]);
  const archive = await readArchive(lineage);
  expect(archive.map((v) => v.number)).toEqual(versions);
  expect(archive.every((v) => v.complete)).toBe(true);
  expect(await tempFilesUnder(dir)).toEqual([]);
  expect(await lockFiles(dir)).toEqual([]);
}

/** Every `--option` a message suggests must exist, or the advice cannot be followed. */
async function expectOptionsExist(message: string, command: string): Promise<void> {
  const help = (await runCli([command, '--help'])).stdout + (await runCli(['--help'])).stdout;
  for (const option of message.match(/--[a-z][a-z-]+/g) ?? []) {
    expect(
      help.includes(option),
      `the message suggests ${option}, which \`acmecli ${command}\` does not have:\n${message}`,
    ).toBe(true);
  }
}

describe('concurrent runs on one certificate', () => {
  it('issue of the same name twice at once: the second exits 6 naming the first pid and writes nothing', async () => {
    const dir = await registered();
    const gate = new Gate(dir);
    const name = 'twice.example.test';
    const first = start(dir, ['issue', '-d', name, ...manual(gate)]);
    expect(await gate.reached(first)).toBe(name);

    const before = await snapshot(dir);
    const second = await ca.run(dir, ['issue', '-d', name, ...manual(gate)]);
    expect(second.exitCode, describeRun(second)).toBe(6);
    expect(second.stderr).toContain(`another acmecli run holds cert-${name} (pid ${first.pid}, since `);
    await expectOptionsExist(second.stderr, 'issue');
    expect(await snapshot(dir)).toEqual(before);

    await gate.release();
    expect(await first.exited, first.stderr).toBe(0);
    await expectConsistent(dir, name, [1]);
  });

  it('issue while renew works on the certificate exits 6; renew while issue works on it waits, then renews', async () => {
    const dir = await registered();
    const gate = new Gate(dir);
    const name = 'mixed.example.test';
    const issued = start(dir, ['issue', '-d', name, ...manual(gate)]);
    await gate.reached(issued);
    await gate.release();
    expect(await issued.exited, issued.stderr).toBe(0);

    // renew holds the certificate: a second issue is refused at once.
    const { run: renew, unheld: unheldRenews } = await startHeld(dir, gate, ['renew', '--force']);
    const before = await snapshot(dir);
    const refused = await ca.run(dir, ['issue', '-d', name, '--force', ...manual(gate)]);
    expect(refused.exitCode, describeRun(refused)).toBe(6);
    expect(refused.stderr).toContain(`another acmecli run holds cert-${name} (pid ${renew.pid}`);
    expect(await snapshot(dir)).toEqual(before);
    await gate.release();
    expect(await renew.exited, renew.stderr).toBe(0);

    // issue holds the certificate: renew waits for it, says for whom, and renews afterwards.
    const { run: forced, unheld: unheldIssues } = await startHeld(dir, gate, [
      'issue',
      '-d',
      name,
      '--force',
      ...manual(gate),
    ]);
    const waiting = start(dir, ['renew', '--force']);
    await waiting.stderrIncludes(`waiting for another acmecli run (pid ${forced.pid}) working on ${name}`);
    await gate.release();
    expect(await forced.exited, forced.stderr).toBe(0);
    await gate.releaseIfReached(waiting);
    expect(await waiting.exited, waiting.stderr).toBe(0);
    await expectConsistent(dir, name, keptVersions(4 + unheldRenews + unheldIssues));
  });

  it('renew while an issue is half-way through swapping the files waits for it instead of "repairing" them', async () => {
    expect(straceAvailable(), 'strace freezes the issue mid-swap; install it (scripts/testbed/install.sh)').toBe(true);
    const dir = await registered();
    const name = 'midswap.example.test';
    const first = await ca.run(dir, ['issue', '-d', name, ...publishing()]);
    expect(first.exitCode, describeRun(first)).toBe(0);
    // Where the `live` link is renamed in a forced issue: the switch to the new set.
    const args = ['--config-dir', dir, ...ca.serverArgs, 'issue', '-d', name, '--force', ...publishing()];
    const traced = await traceRun(args, ['rename'], join(dir, 'issue.trace'));
    expect(traced.run.exitCode, traced.run.stderr).toBe(0);
    const liveSwitch = renamePoints(traced.calls).find((p) => p.target.endsWith(`/certificates/${name}/live`));
    expect(liveSwitch).toBeDefined();

    const frozen = runCliFrozenAtSyscall(args, { syscall: 'rename', when: liveSwitch?.rename as number });
    children.push(frozen.child);
    // Frozen right after the switch, before `current` is committed: the new set live, the marker
    // present — what a repair would "complete" under a run still in progress.
    const lineage = join(dir, 'certificates', name);
    const newSetLive = async () => {
      const version = (await readArchive(lineage)).find((v) => v.number === 3);
      return version?.complete === true && (await readFileSet(lineage)).cert === version.files.cert;
    };
    const pid = await frozen.stopped(newSetLive);
    const live = await readFileSet(lineage);
    const archive = await readArchive(lineage);
    expect(live.privkey).toBe(archive[2]?.files.privkey);
    expect(await readdir(lineage)).toContain('.swap-in-progress');

    const renew = start(dir, ['renew']);
    await renew.stderrIncludes(`waiting for another acmecli run (pid ${pid}) working on ${name}`);
    expect(renew.stderr).not.toContain('half-written');
    frozen.resume();
    const issued = await frozen.exited;
    expect(issued.code, issued.stderr).toBe(0);
    expect(await renew.exited, renew.stderr).toBe(0);
    expect(renew.stderr).not.toContain('half-written');
    await expectConsistent(dir, name, [1, 2, 3]);
  });

  it('a run killed while taking over a stale lock does not hold up the next one', async () => {
    expect(straceAvailable(), 'strace kills the run at the takeover; install it (scripts/testbed/install.sh)').toBe(
      true,
    );
    const dir = await registered();
    const name = 'takeover.example.test';
    const first = await ca.run(dir, ['issue', '-d', name, ...publishing()]);
    expect(first.exitCode, describeRun(first)).toBe(0);
    const args = ['--config-dir', dir, ...ca.serverArgs, 'issue', '-d', name, '--force', ...publishing()];
    // A run killed while writing leaves its lock: stale, since its pid is gone.
    const killed = await runCliKilledAtSyscall(args, { syscall: 'rename', when: 1 });
    expect(killed.killed).toBe(true);
    expect(await lockFiles(dir)).toEqual([`cert-${name}.lock`]);
    // The next run takes it over: under the takeover guard it removes the stale lock (its third
    // unlink: the first two remove the temp files its lock attempt and the guard were linked
    // from) and is killed right there, leaving the guard behind.
    const killedInTakeover = await runCliKilledAtSyscall(args, { syscall: 'unlink', when: 3 });
    expect(killedInTakeover.killed).toBe(true);
    expect(await lockFiles(dir)).toEqual([`cert-${name}.lock`, `cert-${name}.lock.takeover`]);
    // The guard's owner is dead too: the next run must remove the guard at once instead of
    // retrying until it ages (30 s). Its guard attempts, in order: the one that meets the dead
    // guard, the move that removes it, and its own successful one; a run that waited would retry
    // the link every 50 ms.
    const next = await traceRun(args, ['link', 'rename'], join(dir, 'next.trace'));
    expect(next.run.exitCode, next.run.stderr).toBe(0);
    const guard = join(dir, 'locks', `cert-${name}.lock.takeover`);
    const guardCalls = next.calls
      .filter((call) => call.target?.startsWith(guard) === true)
      .map((call) => `${call.syscall} ${call.target === guard ? 'guard' : 'aside'}`);
    expect(guardCalls).toEqual(['link guard', 'rename aside', 'link guard']);
    expect(await lockFiles(dir)).toEqual([]);
    await expectConsistent(dir, name, [1, 2]);
  });

  it('two renews at once: the second waits for the first, naming its pid, then renews; no corruption', async () => {
    const dir = await registered();
    const gate = new Gate(dir);
    const name = 'renew2.example.test';
    const issued = start(dir, ['issue', '-d', name, ...manual(gate)]);
    await gate.reached(issued);
    await gate.release();
    expect(await issued.exited, issued.stderr).toBe(0);

    const { run: first, unheld } = await startHeld(dir, gate, ['renew', '--force']);
    const second = start(dir, ['renew', '--force']);
    await second.stderrIncludes(`another renew is running (pid ${first.pid}); waiting for it to finish`);
    // The waiting run has not touched the certificate.
    expect((await readArchive(join(dir, 'certificates', name))).map((v) => v.number)).toEqual(keptVersions(1 + unheld));
    await gate.release();
    expect(await first.exited, first.stderr).toBe(0);
    expect(processIsAlive(second.pid)).toBe(true);
    await gate.releaseIfReached(second);
    expect(await second.exited, second.stderr).toBe(0);
    await expectConsistent(dir, name, keptVersions(3 + unheld));
  });
});
