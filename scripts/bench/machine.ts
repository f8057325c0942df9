/** One line that says what the numbers were measured on. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

export function describeMachine(input: { nodePath: string; pebble: string; loadAtStart: number[] }): string {
  const cpuList = cpus();
  const model = (cpuList[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  const debian = existsSync('/etc/debian_version')
    ? `Debian ${readFileSync('/etc/debian_version', 'utf8').trim()}`
    : 'Linux';
  const node = spawnSync(input.nodePath, ['--version'], { encoding: 'utf8' }).stdout.trim() || '?';
  const gib = (totalmem() / 1024 ** 3).toFixed(0);
  const load = (values: number[]) => values.map((v) => v.toFixed(1)).join(' ');
  return (
    `${cpuList.length} × ${model}, ${gib} GiB RAM, ${debian} (kernel ${release()}), Node ${node}, ` +
    `${input.pebble}; load average ${load(input.loadAtStart)} at the start, ${load(loadavg())} at the end`
  );
}
