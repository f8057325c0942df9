/**
 * The protocol core (src/acme) names no flag or command of the CLI: it gives facts (an error's
 * `advice`), and the CLI words them (src/cli/hints.ts). Every string and template literal of
 * src/acme is checked; comments may name flags.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const CORE = join(ROOT, 'src/acme');
/** A long option (`--ca-bundle`) or an acmecli command line (`acmecli register`). */
const CLI_WORDS = /(?<![\w-])--[a-z]|\bacmecli [a-z]/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** Each literal's text with its place, `file:line`. */
function literals(file: string): Array<{ where: string; text: string }> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Array<{ where: string; text: string }> = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      found.push({ where: `${relative(ROOT, file)}:${line}`, text: node.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('the protocol core names no CLI flag or command', () => {
  it('finds the core and reads its literals', () => {
    const files = sourceFiles(CORE);
    expect(files.map((file) => relative(CORE, file))).toContain('client.ts');
    // The pattern catches what it is for, in a literal of the core's own shape.
    expect(CLI_WORDS.test('pass --ca-bundle FILE')).toBe(true);
    expect(CLI_WORDS.test('run `acmecli register` first')).toBe(true);
    expect(CLI_WORDS.test('-----BEGIN CERTIFICATE-----')).toBe(false);
  });

  it('has no literal in src/acme that names one', () => {
    const offending = sourceFiles(CORE)
      .flatMap(literals)
      .filter((literal) => CLI_WORDS.test(literal.text))
      .map((literal) => `${literal.where}: ${JSON.stringify(literal.text)}`);
    expect(offending).toEqual([]);
  });
});
