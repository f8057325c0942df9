/**
 * Issue 12 §4: text from outside acmecli never reaches a terminal, a log file or a JSON document
 * raw. A hostile CA (the scriptable fake CA: no real CA sends escape sequences on demand) and
 * hostile hooks and reload commands (against Pebble) send ESC sequences (clear screen, OSC 52
 * clipboard write, OSC 8 hyperlink), NUL, CR/LF followed by a forged timestamped log line, C1
 * CSI (U+009B), DEL and bidi overrides. The built CLI's stdout, stderr, --log-file and --json
 * document are checked code point by code point; the escaped form must be visible; every line of
 * the log and of the plain stderr is timestamped, the text stays inside the exact number of lines
 * that quote it, and against the fake CA both have exactly as many lines as the same run with
 * harmless text (against Pebble the number of validation attempts, hence of debug lines, varies).
 * One run goes through a pseudo-terminal (script(1)): the terms-of-service question and ora.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand, childPath, REPO_ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import { startFakeCa, type FakeCa, type FakeCaOptions } from '../helpers/fake-ca.js';
import { rawCharacters } from '../helpers/control-chars.js';

const FORGED = '2025-01-01T00:00:00Z ERROR forged by the CA';
/** Every kind of character a terminal or a log reader would act on. */
const HOSTILE = [
  '<',
  '\x1b[2J',
  '\x1b]52;c;aGVsbG8=\x07',
  '\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\',
  ' nul\x00',
  ' cr\r\n',
  FORGED,
  '\n csi\u009b31m del\x7f rlo\u202egnp.exe lri\u2066x\u2069 rlm\u200f alm\u061c tab\t',
  '>',
].join('');
/** The same run with this text instead gives the expected number of lines. */
const BENIGN = '<harmless text>';

/** Escaped forms a user must see where the hostile text was (independent of the implementation). */
const VISIBLE = [
  '\\x1b[2J',
  '\\x1b]52;c;aGVsbG8=\\x07',
  '\\x00',
  '\\x9b31m',
  '\\x7f',
  '\\u202egnp.exe',
  '\\u2066x\\u2069',
];
/** Seen only where the text is not collapsed to one line by acmecli first (ToS URL, hook output). */
const VISIBLE_NEWLINE = `\\n${FORGED}\\n`;

const STAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /;

/** Lines of a timestamped text (log file, plain stderr), each checked to start with a timestamp. */
function stampedLines(text: string): string[] {
  const lines = text.split('\n');
  expect(lines.pop()).toBe('');
  for (const line of lines) expect(line).toMatch(STAMPED);
  return lines;
}

interface Runs {
  hostile: CliResult;
  hostileLog: string;
  /** The same run with harmless text, where its output is deterministic (not against Pebble's multi-VA). */
  benign?: { result: CliResult; log: string };
  json: CliResult;
  jsonLog: string;
}

const START = '<\\x1b[2J';
const END = 'alm\\u061c';

/** Lines that carry the hostile text; each must carry it whole, from its first to its last character. */
function hostileLines(text: string): string[] {
  const lines = text.split('\n').filter((line) => line.includes(START) || line.includes(FORGED) || line.includes(END));
  for (const line of lines) {
    expect(line).toContain(START);
    expect(line).toContain(END);
  }
  return lines;
}

interface Expected {
  code: number;
  /** Lines of the log (and of the timestamped stderr) that quote the text. */
  logLines: number;
  /** Lines of stdout that quote it. */
  stdoutLines?: number;
  /** Whether acmecli passes the text's newlines on (ToS URL, hook output) rather than collapsing them. */
  newlineVisible: boolean;
  /** Whether stdout or stderr quote the text at all (false: it reaches only --json). */
  shown?: boolean;
}

function expectClean(runs: Runs, expected: Expected): void {
  const { hostile, json } = runs;
  expect(hostile.exitCode, describeRun(hostile)).toBe(expected.code);
  expect(json.exitCode, describeRun(json)).toBe(expected.code);
  for (const [channel, text] of [
    ['stdout', hostile.stdout],
    ['stderr', hostile.stderr],
    ['log', runs.hostileLog],
    ['json stdout', json.stdout],
    ['json stderr', json.stderr],
    ['json log', runs.jsonLog],
  ] as const) {
    expect(rawCharacters(text), `${channel}:\n${text}`).toEqual([]);
  }
  // The user sees that something was there.
  const shown = hostile.stdout + hostile.stderr;
  if (expected.shown === false) expect(shown).not.toContain(START);
  else for (const form of VISIBLE) expect(shown).toContain(form);
  if (expected.newlineVisible) expect(shown).toContain(VISIBLE_NEWLINE);
  if (expected.logLines > 0) {
    for (const form of VISIBLE) expect(runs.hostileLog).toContain(form);
    if (expected.newlineVisible) expect(runs.hostileLog).toContain(VISIBLE_NEWLINE);
  }
  // No forged line: every line timestamped, the text only ever inside the lines that quote it.
  stampedLines(runs.hostileLog);
  stampedLines(runs.jsonLog);
  stampedLines(hostile.stderr);
  expect(hostileLines(runs.hostileLog)).toHaveLength(expected.logLines);
  expect(hostileLines(runs.jsonLog)).toHaveLength(expected.logLines);
  expect(hostileLines(hostile.stderr)).toHaveLength(expected.logLines);
  expect(hostileLines(hostile.stdout)).toHaveLength(expected.stdoutLines ?? 0);
  if (runs.benign) {
    expect(runs.benign.result.exitCode, describeRun(runs.benign.result)).toBe(expected.code);
    expect(stampedLines(runs.hostileLog)).toHaveLength(stampedLines(runs.benign.log).length);
    expect(stampedLines(hostile.stderr)).toHaveLength(stampedLines(runs.benign.result.stderr).length);
    expect(hostile.stdout.split('\n')).toHaveLength(runs.benign.result.stdout.split('\n').length);
  }
  // --json: one document, control and bidi characters written as \uXXXX, the data itself unchanged.
  expect(json.stdout).toContain('\\u001b[2J');
  for (const escape of ['\\u009b', '\\u007f', '\\u202e', '\\u2066', '\\u2069', '\\u200f', '\\u061c'])
    expect(json.stdout).toContain(escape);
  const decoded = stringsIn(JSON.parse(json.stdout)).join('\n');
  for (const raw of ['\x1b[2J', '\u009b31m', '\u202egnp.exe', '\x7f']) expect(decoded).toContain(raw);
}

/** Every string in a parsed JSON document. */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'acmecli-escapes-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Runs hostile text in plain mode (-v) and with --json, and harmless text when `benign`. */
async function collect(run: (text: string, extra: string[]) => Promise<CliResult>, benign: boolean): Promise<Runs> {
  const logs = {
    hostile: join(await tempDir(), 'a.log'),
    benign: join(await tempDir(), 'b.log'),
    json: join(await tempDir(), 'c.log'),
  };
  const read = (path: string) => readFile(path, 'utf8').catch(() => '');
  const hostile = await run(HOSTILE, ['-v', '--log-file', logs.hostile]);
  const json = await run(HOSTILE, ['--json', '--log-file', logs.json]);
  const result: Runs = { hostile, hostileLog: await read(logs.hostile), json, jsonLog: await read(logs.json) };
  if (benign)
    result.benign = { result: await run(BENIGN, ['-v', '--log-file', logs.benign]), log: await read(logs.benign) };
  return result;
}

describe('fake CA: CA text reaches stdout, stderr, the log and --json escaped', () => {
  let fake: FakeCa;
  beforeAll(async () => {
    fake = await startFakeCa();
  });
  afterAll(async () => {
    await fake?.stop();
  });

  /** The CA refuses requests to `resource` with the text in the problem's type and detail. */
  const problemOn =
    (resource: 'newAccount' | 'newOrder', code: string) =>
    (text: string): FakeCaOptions => ({
      interceptor: (request, res) => {
        if (request.resource !== resource) return false;
        res.writeHead(400, { 'content-type': 'application/problem+json', 'replay-nonce': fake.issueNonce() }).end(
          JSON.stringify({
            type: `urn:ietf:params:acme:error:${code}${text}`,
            detail: `${resource} refused ${text}`,
            status: 400,
          }),
        );
        return true;
      },
    });
  const withTerms = (text: string) => (defaults: Record<string, unknown>) => ({
    ...defaults,
    meta: { termsOfService: `https://ca.example/tos${text}` },
  });
  /** The text in the ToS URL and in the account's contact as the CA returns it. */
  const hostileAccount = (text: string): FakeCaOptions => ({
    directory: withTerms(text),
    interceptor: (request, res) => {
      if (request.resource !== 'newAccount') return false;
      res
        .writeHead(201, {
          'content-type': 'application/json',
          'replay-nonce': fake.issueNonce(),
          location: `${fake.origin}/acct/escapes`,
        })
        .end(JSON.stringify({ status: 'valid', contact: [`mailto:admin${text}@example.test`] }));
      return true;
    },
  });
  /** A CLI run against the fake CA with `options` for this run only. */
  const withFake =
    (options: (text: string) => FakeCaOptions, args: string[]) => async (text: string, extra: string[]) => {
      const dir = await tempDir();
      fake.options = options(text);
      try {
        return await runCli(['--config-dir', dir, '--server', fake.directoryUrl, '-n', ...extra, ...args]);
      } finally {
        fake.options = {};
      }
    };

  it('fake CA: a problem type and detail on newAccount', async () => {
    const runs = await collect(
      withFake(problemOn('newAccount', 'malformed'), ['register', '--agree-tos', '--email', 'admin@example.test']),
      true,
    );
    expectClean(runs, { code: 3, logLines: 1, newlineVisible: false });
  });

  it('fake CA: a problem type and detail on newOrder', async () => {
    const issue = [
      'issue',
      '--agree-tos',
      '-d',
      'order.example.test',
      '--manual',
      '--manual-auth-hook',
      'true',
      '--preferred-challenges',
      'http-01',
    ];
    const runs = await collect(withFake(problemOn('newOrder', 'rejectedIdentifier'), issue), true);
    expectClean(runs, { code: 3, logLines: 1, newlineVisible: false });
  });

  it('fake CA: a terms-of-service URL (refused without --agree-tos)', async () => {
    const runs = await collect(
      withFake((text) => ({ directory: withTerms(text) }), ['register', '--email', 'admin@example.test']),
      true,
    );
    expectClean(runs, { code: 2, logLines: 1, newlineVisible: true });
  });

  it('fake CA: account fields and the terms-of-service URL in the register result', async () => {
    const runs = await collect(
      withFake(hostileAccount, ['register', '--agree-tos', '--email', 'admin@example.test']),
      true,
    );
    // The CA's contact carries the text, so it is not a list of URLs: acmecli keeps and shows the
    // contact it sent (src/store/account-store.ts). The text then reaches only --json's ToS URL.
    expectClean(runs, { code: 0, logLines: 0, stdoutLines: 0, newlineVisible: false, shown: false });
    expect(runs.hostile.stdout).toContain('contact:     mailto:admin@example.test');
  });

  it('fake CA: on a terminal (pty), the terms-of-service question and the register result show the text escaped', async () => {
    const dir = await tempDir();
    fake.options = hostileAccount(HOSTILE);
    let output: string;
    let code: number | null;
    try {
      ({ output, code } = await runInPty(
        ['--config-dir', dir, '--server', fake.directoryUrl, 'register', '--email', 'admin@example.test'],
        'y\n',
      ));
    } finally {
      fake.options = {};
    }
    expect(code, output).toBe(0);
    // The terminal carries acmecli's own sequences (ora's spinner, readline's prompt); none of the CA's.
    for (const raw of [
      '\x1b[2J',
      '\x1b]52',
      '\x1b]8;',
      '\x00',
      '\u009b',
      '\x7f',
      '\u202e',
      '\u2066',
      '\u2069',
      '\u200f',
      '\u061c',
      `\n${FORGED}`,
    ]) {
      expect(output.includes(raw), `raw ${JSON.stringify(raw)} in:\n${output}`).toBe(false);
    }
    // The question (ToS URL) shows the text escaped; the result shows the contact acmecli sent.
    expect(output).toContain(`https://ca.example/tos<\\x1b[2J`);
    expect(output).toContain('contact:     mailto:admin@example.test');
    expect(output).toContain(VISIBLE_NEWLINE);
  });
});

/** acmecli under `script`, so stdin and stderr are a terminal (ora spins, prompts are asked). */
function runInPty(args: readonly string[], input: string): Promise<{ output: string; code: number | null }> {
  const { file, prefix } = cliCommand();
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
  const command = [file, ...prefix, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { PATH: childPath(), HOME: process.env.HOME, LANG: 'C.UTF-8', TERM: 'xterm', COLUMNS: '100', LINES: '40' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ output: Buffer.concat(chunks).toString('utf8'), code });
    });
    child.stdin.end(input);
  });
}

describe('Pebble: hook and reload-command output reaches stdout, stderr, the log and --json escaped', () => {
  let ca: E2eCa;
  beforeAll(async () => {
    ca = await startE2eCa();
  });
  afterAll(async () => {
    await ca?.stop();
  });

  /** A shell script that writes `text` on stdout and stderr, byte for byte, and exits `code`. */
  async function script(text: string, code: number): Promise<string> {
    const path = join(await tempDir(), 'hook.sh');
    const bytes = Buffer.from(text, 'utf8').toString('base64');
    await writeFile(path, `printf '%s' '${bytes}' | base64 -d\nprintf '%s' '${bytes}' | base64 -d >&2\nexit ${code}\n`);
    return path;
  }

  it('a manual auth hook whose stdout and stderr carry the text (echoed under -v, quoted in the error)', async () => {
    const runs = await collect(async (text, extra) => {
      const dir = await ca.newConfigDir();
      const hook = await script(text, 1);
      return ca.run(dir, [
        ...extra,
        'issue',
        '--agree-tos',
        '-d',
        'hook.example.test',
        '--manual',
        '--manual-auth-hook',
        `sh ${hook}`,
        '--preferred-challenges',
        'http-01',
      ]);
    }, false);
    // Echoed twice under -v (stdout, stderr), then quoted in the error.
    expectClean(runs, { code: 4, logLines: 3, newlineVisible: true });
  });

  it('a reload command whose stderr carries the text, and the renew summary that quotes it', async () => {
    const issue = async (text: string, extra: string[]) => {
      const dir = await ca.newConfigDir();
      const reload = await script(text, 1);
      const result = await ca.run(dir, [
        ...extra,
        'issue',
        '--agree-tos',
        '-d',
        'reload.example.test',
        '--standalone',
        '--http-port',
        String(ca.pebble.httpPort),
        '--reload-cmd',
        `sh ${reload}`,
      ]);
      dirsByResult.set(result, dir);
      return result;
    };
    const dirsByResult = new Map<CliResult, string>();
    const issued = await collect(issue, false);
    expectClean(issued, { code: 8, logLines: 1, newlineVisible: false });

    // The certificates exist now; renew runs the stored reload command and sums it up on stdout.
    const renewed = await collect(async (_text, extra) => {
      const source = extra.includes('--json') ? issued.json : issued.hostile;
      return ca.run(dirsByResult.get(source) as string, [...extra, 'renew', '--force']);
    }, false);
    expectClean(renewed, { code: 8, logLines: 1, stdoutLines: 1, newlineVisible: false });
    expect(renewed.hostile.stdout).toContain('reload.example.test: FAILED');
  });
});
