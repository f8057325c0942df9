/**
 * Turns samples into the benchmark's one table (medians, min–max, acmecli ÷ each peer), checks
 * the issue's time targets and the peak-RSS guard, and rewrites the README's performance section
 * between markers.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Sample } from './measure.js';
import type { ClientKey } from './clients.js';

export type WorkloadId = 'issue1' | 'issue50' | 'renew1' | 'renew100' | 'renew1000' | 'version' | 'help' | 'node0';

export interface Cell {
  /** Why the cell has no numbers ("n/a (not built)", "setup failed", …). */
  unavailable?: string;
  planned: number;
  samples: Sample[];
  timedOutAfterS?: number;
  /** Runs dropped because the cell's time budget ran out. */
  budgetStopped?: boolean;
}

export type Results = Partial<Record<WorkloadId, Partial<Record<ClientKey, Cell>>>>;

export interface ColumnInfo {
  key: ClientKey;
  label: string;
  version?: string;
}

export const ACMECLI_KEYS: readonly ClientKey[] = ['acmecli-bin', 'acmecli-node'];
export const PEER_KEYS: readonly ClientKey[] = ['certbot', 'lego', 'uacme'];

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

function stat(values: readonly number[]): Stat | undefined {
  if (values.length === 0) return undefined;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

export function timeStat(cell: Cell | undefined): Stat | undefined {
  return cell ? stat(cell.samples.filter((s) => s.ok).map((s) => s.seconds)) : undefined;
}

export function cpuStat(cell: Cell | undefined): Stat | undefined {
  return cell
    ? stat(cell.samples.filter((s) => s.ok && s.cpuSeconds !== undefined).map((s) => s.cpuSeconds as number))
    : undefined;
}

/** MiB. */
export function rssStat(cell: Cell | undefined): Stat | undefined {
  return cell
    ? stat(cell.samples.filter((s) => s.ok && s.maxRssKiB !== undefined).map((s) => (s.maxRssKiB as number) / 1024))
    : undefined;
}

function fmtSeconds(s: number): string {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 100) return `${s.toFixed(1)} s`;
  return `${Math.round(s)} s`;
}

function fmtSecondsRange(st: Stat): string {
  // Same unit for both ends when the median is in ms.
  if (st.median < 1 && st.max < 1) return `${Math.round(st.min * 1000)}–${Math.round(st.max * 1000)}`;
  return `${fmtSeconds(st.min).replace(/ m?s$/, '')}–${fmtSeconds(st.max)}`;
}

function fmtDelta(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  return `${ms >= 0 ? '+' : '−'}${Math.abs(ms)} ms`;
}

function fmtMiB(m: number): string {
  return m < 10 ? m.toFixed(1) : String(Math.round(m));
}

function statOf(cell: Cell | undefined, kind: RowKind): Stat | undefined {
  return kind === 'time' ? timeStat(cell) : kind === 'cpu' ? cpuStat(cell) : rssStat(cell);
}

type RowKind = 'time' | 'cpu' | 'rss';

function cellText(cell: Cell | undefined, kind: RowKind): string {
  if (!cell) return '—';
  if (cell.unavailable) return cell.unavailable;
  const st = statOf(cell, kind);
  const failed = cell.samples.filter((s) => !s.ok && !s.timedOut).length;
  const timedOut = cell.samples.some((s) => s.timedOut);
  if (!st) {
    if (timedOut) return `timeout (> ${fmtSeconds(cell.timedOutAfterS ?? 0)})`;
    return failed ? 'failed' : '—';
  }
  let text =
    kind !== 'rss'
      ? `${fmtSeconds(st.median)} (${fmtSecondsRange(st)})`
      : `${fmtMiB(st.median)} (${fmtMiB(st.min)}–${fmtMiB(st.max)})`;
  const notes: string[] = [];
  if (st.n < cell.planned) notes.push(`n=${st.n}`);
  if (failed) notes.push(`${failed} failed`);
  if (timedOut) notes.push('a run timed out');
  if (notes.length) text += ` [${notes.join(', ')}]`;
  return text;
}

function ratio(a: Stat | undefined, b: Stat | undefined): number | undefined {
  if (!a || !b || b.median === 0) return undefined;
  return a.median / b.median;
}

function fmtRatio(r: number | undefined): string {
  if (r === undefined) return '—';
  if (r >= 10) return `${Math.round(r)}×`;
  if (r >= 1) return `${r.toFixed(1)}×`;
  return `${r.toFixed(2)}×`;
}

interface RowDef {
  workload: WorkloadId;
  kind: RowKind;
  title: string;
}

export const ROWS: readonly RowDef[] = [
  { workload: 'issue1', kind: 'time', title: '1. issue, 1 name (http-01, P-256)' },
  { workload: 'issue50', kind: 'time', title: '2. issue, 50 names' },
  { workload: 'renew1', kind: 'time', title: '3. renew, nothing due, 1 cert' },
  { workload: 'renew100', kind: 'time', title: '3. renew, nothing due, 100 certs' },
  { workload: 'renew1000', kind: 'time', title: '3. renew, nothing due, 1,000 certs' },
  { workload: 'version', kind: 'time', title: '4. `--version`' },
  { workload: 'help', kind: 'time', title: '4. `--help`' },
  { workload: 'node0', kind: 'time', title: '(reference: bare `node -e 0`)' },
  { workload: 'issue1', kind: 'cpu', title: 'CPU user+sys: issue, 1 name' },
  { workload: 'issue50', kind: 'cpu', title: 'CPU user+sys: issue, 50 names' },
  { workload: 'renew1000', kind: 'cpu', title: 'CPU user+sys: renew, 1,000 certs' },
  { workload: 'version', kind: 'cpu', title: 'CPU user+sys: `--version`' },
  { workload: 'help', kind: 'cpu', title: 'CPU user+sys: `--help`' },
  { workload: 'node0', kind: 'cpu', title: 'CPU user+sys: bare `node -e 0`' },
  { workload: 'issue1', kind: 'rss', title: '5. peak RSS, issue 1 name (MiB)' },
  { workload: 'issue50', kind: 'rss', title: '5. peak RSS, issue 50 names (MiB)' },
  { workload: 'version', kind: 'rss', title: '5. peak RSS, `--version` (MiB)' },
  { workload: 'help', kind: 'rss', title: '5. peak RSS, `--help` (MiB)' },
];

export function renderTable(results: Results, columns: readonly ColumnInfo[]): string {
  const present = (key: ClientKey) => columns.find((c) => c.key === key);
  const acmecliCols = ACMECLI_KEYS.map(present).filter((c): c is ColumnInfo => c !== undefined);
  const peerCols = PEER_KEYS.map(present).filter((c): c is ColumnInfo => c !== undefined);
  const binWorks = Object.values(results).some((row) => row?.['acmecli-bin'] && !row['acmecli-bin'].unavailable);
  const header = [
    'workload (median, min–max)',
    ...[...acmecliCols, ...peerCols].map((c) => (c.version ? `${c.label} ${shortVersion(c.version)}` : c.label)),
    ...peerCols.map((c) => `acmecli ÷ ${c.label}${binWorks && acmecliCols.length > 1 ? ' (binary / node)' : ''}`),
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const row of ROWS) {
    const cells = results[row.workload];
    if (!cells) continue;
    const st = (key: ClientKey) => statOf(cells[key], row.kind);
    // No CPU figures at all (GNU time fallback): leave the row out.
    if (row.kind === 'cpu' && Object.values(cells).every((c) => !cpuStat(c))) continue;
    const values = [...acmecliCols, ...peerCols].map((c) => cellText(cells[c.key], row.kind));
    const ratios = peerCols.map((peer) => {
      const peerStat = st(peer.key);
      const rs = acmecliCols
        .filter((c) => (c.key === 'acmecli-bin' ? binWorks : true))
        .map((c) => fmtRatio(ratio(st(c.key), peerStat)));
      return rs.every((r) => r === '—') ? '—' : rs.join(' / ');
    });
    lines.push(`| ${[row.title, ...values, ...ratios].join(' | ')} |`);
  }
  return lines.join('\n');
}

function shortVersion(version: string): string {
  // Debian versions: "2.1.0-4" → "2.1.0", "4.35.2-3" → "4.35.2", "1.7.4-1" → "1.7.4".
  return version.replace(/^\d+:/, '').replace(/[-+~].*$/, '');
}

export interface TargetResult {
  text: string;
  met: boolean | undefined;
}

/** The issue's targets, evaluated on this run's medians, per acmecli build that was measured. */
export function evaluateTargets(results: Results, binaryAvailable: boolean): TargetResult[] {
  const out: TargetResult[] = [];
  const variants: Array<{ key: ClientKey; name: string }> = [
    ...(binaryAvailable ? [{ key: 'acmecli-bin' as const, name: 'binary' }] : []),
    { key: 'acmecli-node', name: 'node dist' },
  ];
  const t = (w: WorkloadId, k: ClientKey) => timeStat(results[w]?.[k]);
  const c = (w: WorkloadId, k: ClientKey) => cpuStat(results[w]?.[k])?.median;
  const check = (
    label: string,
    value: number | undefined,
    limit: number | undefined,
    show: (v: number, l: number) => string,
  ): void => {
    if (value === undefined || limit === undefined) {
      out.push({ text: `${label}: not measured`, met: undefined });
      return;
    }
    out.push({ text: `${label}: ${show(value, limit)}`, met: value <= limit });
  };
  for (const v of variants) {
    const issue1 = t('issue1', v.key)?.median;
    const certbot1 = t('issue1', 'certbot')?.median;
    const uacme1 = t('issue1', 'uacme')?.median;
    check(
      `1 name ≤ ¼ certbot (${v.name})`,
      issue1,
      certbot1 === undefined ? undefined : certbot1 / 4,
      (a, l) => `${fmtSeconds(a)} vs limit ${fmtSeconds(l)} (ratio ${fmtRatio(a / (l * 4))})`,
    );
    check(
      `1 name ≤ uacme (${v.name})`,
      issue1,
      uacme1,
      (a, l) => `${fmtSeconds(a)} vs ${fmtSeconds(l)} (ratio ${fmtRatio(a / l)})`,
    );
    const issue50 = t('issue50', v.key)?.median;
    const certbot50 = t('issue50', 'certbot')?.median;
    check(
      `50 names ≤ ¼ certbot (${v.name})`,
      issue50,
      certbot50 === undefined ? undefined : certbot50 / 4,
      (a, l) => `${fmtSeconds(a)} vs limit ${fmtSeconds(l)} (ratio ${fmtRatio(a / (l * 4))})`,
    );
    const renewCpu = c('renew1000', v.key);
    check(
      `renew 1,000 nothing due < 0.5 s (${v.name})`,
      t('renew1000', v.key)?.median,
      0.5,
      (a) => `${fmtSeconds(a)}${renewCpu !== undefined ? ` (CPU ${fmtSeconds(renewCpu)})` : ''}`,
    );
  }
  const node0 = t('node0', 'acmecli-node')?.median;
  const binVersion = binaryAvailable ? t('version', 'acmecli-bin')?.median : undefined;
  if (binaryAvailable) {
    const best = (t('version', 'acmecli-bin')?.min ?? NaN) - (t('node0', 'acmecli-node')?.min ?? NaN);
    const cpuBin = c('version', 'acmecli-bin');
    const cpuNode0 = c('node0', 'acmecli-node');
    const cpuDelta = cpuBin !== undefined && cpuNode0 !== undefined ? `; CPU ${fmtDelta(cpuBin - cpuNode0)}` : '';
    check(
      'binary --version within 30 ms of node -e 0',
      binVersion === undefined || node0 === undefined ? undefined : binVersion - node0,
      0.03,
      (d) =>
        `wall ${fmtDelta(d)} (medians; ${Number.isNaN(best) ? '?' : fmtDelta(best)} between the fastest runs)${cpuDelta}`,
    );
  } else {
    const nodeVersion = t('version', 'acmecli-node')?.median;
    out.push({
      text:
        'binary --version within 30 ms of node -e 0: not measured (binary not built)' +
        (nodeVersion !== undefined && node0 !== undefined
          ? `; node dist --version is ${fmtDelta(nodeVersion - node0)}`
          : ''),
      met: undefined,
    });
  }
  return out;
}

/**
 * Memory is a guard, not a target: an issuance, by the single binary or by `node dist`, peaks at
 * no more than this (median of the runs). A change that costs a few MiB below it for a documented
 * API or a chosen library is the right trade; going over it fails `npm run bench`.
 */
export const PEAK_RSS_GUARD_MIB = 64;

export interface GuardResult {
  text: string;
  /** undefined: not measured (no binary, or the workload was not run). */
  passed: boolean | undefined;
}

export function evaluateRssGuard(results: Results, binaryAvailable: boolean): GuardResult[] {
  const variants: Array<{ key: ClientKey; name: string }> = [
    ...(binaryAvailable ? [{ key: 'acmecli-bin' as const, name: 'binary' }] : []),
    { key: 'acmecli-node', name: 'node dist' },
  ];
  const out: GuardResult[] = [];
  for (const v of variants) {
    for (const w of ['issue1', 'issue50'] as const) {
      const label = `peak RSS, issue ${w === 'issue1' ? '1 name' : '50 names'} (${v.name})`;
      const mib = rssStat(results[w]?.[v.key])?.median;
      out.push(
        mib === undefined
          ? { text: `${label}: not measured`, passed: undefined }
          : { text: `${label}: ${mib.toFixed(1)} MiB`, passed: mib <= PEAK_RSS_GUARD_MIB },
      );
    }
  }
  return out;
}

export function renderGuard(guard: readonly GuardResult[]): string {
  return guard.map((g) => `- ${g.passed === undefined ? '–' : g.passed ? 'PASS' : '**FAIL**'}: ${g.text}`).join('\n');
}

export function renderTargets(targets: readonly TargetResult[]): string {
  return targets.map((t) => `- ${t.met === undefined ? '–' : t.met ? 'met' : '**MISSED**'}: ${t.text}`).join('\n');
}

export const README_START = '<!-- bench:start -->';
export const README_END = '<!-- bench:end -->';

/** Replaces what is between the markers; throws (changing nothing) when they are missing. */
export async function updateReadme(path: string, body: string): Promise<void> {
  const text = await readFile(path, 'utf8');
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(
      `${path} has no ${README_START} … ${README_END} pair: put both markers (each on its own line) ` +
        `around the body of the "## Performance" section, then run again with --update-readme`,
    );
  }
  const updated = `${text.slice(0, start + README_START.length)}\n${body.trim()}\n${text.slice(end)}`;
  await writeFile(path, updated);
}
