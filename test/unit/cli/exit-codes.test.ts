/** The exit codes are documented once each: ExitCode, the table --help prints, README "Exit codes". */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODE_TABLE, ExitCode } from '../../../src/cli/exit-codes.js';

function readmeCodes(): number[] {
  const readme = readFileSync(join(import.meta.dirname, '../../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Exit codes'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| code |')));
  return [...table.matchAll(/^\| (\d+) \|/gm)].map((match) => Number(match[1]));
}

describe('exit codes', () => {
  it('the --help table lists every ExitCode once, in order', () => {
    const codes = Object.values(ExitCode);
    expect(EXIT_CODE_TABLE.map(([code]) => code)).toEqual(codes);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('README "Exit codes" lists the same codes', () => {
    expect(readmeCodes()).toEqual(EXIT_CODE_TABLE.map(([code]) => code));
  });
});
