import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

// The real boundary rules from eslint.config.js, applied to probe sources at paths inside each
// layer (lintText never writes them), so a loosened rule fails here and not in review.
const ROOT = join(import.meta.dirname, '..', '..', '..');
const { layerBoundaries } = (await import(pathToFileURL(join(ROOT, 'eslint.config.js')).href)) as {
  layerBoundaries: Linter.Config[];
};
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfigFile: true,
  overrideConfig: [tseslint.configs.base as Linter.Config, ...layerBoundaries],
});

async function violations(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: join(ROOT, path) });
  return (result?.messages ?? []).map((message) => `${message.line}:${message.ruleId ?? 'parse'}`);
}

describe('layering rules (eslint.config.js)', () => {
  it('src/acme imports no store, operation, CLI, challenge or plugin code, and no filesystem or process module', async () => {
    const source = [
      "import { acquireLock } from '../store/lock.js';",
      "import { issueCertificate } from '../operations/issue.js';",
      "import { runCli } from '../cli/main.js';",
      "import { builtinPlugins } from '../challenges/registry.js';",
      "import { webroot } from '../../plugins/webroot/index.js';",
      "import { readFile } from 'node:fs/promises';",
      "import { spawn } from 'node:child_process';",
      "import type { Settings } from '../store/settings.js';",
      "import { signRequest } from './jws.js';",
      "import { UsageError } from '../errors.js';",
      "import { parsePem } from '../crypto/pem.js';",
    ].join('\n');
    expect(await violations('src/acme/probe.ts', source)).toEqual([
      '1:@typescript-eslint/no-restricted-imports',
      '2:@typescript-eslint/no-restricted-imports',
      '3:@typescript-eslint/no-restricted-imports',
      '4:@typescript-eslint/no-restricted-imports',
      '5:@typescript-eslint/no-restricted-imports',
      '6:@typescript-eslint/no-restricted-imports',
      '7:@typescript-eslint/no-restricted-imports',
      '8:@typescript-eslint/no-restricted-imports',
    ]);
  });

  it('a plugin imports nothing from src/cli or src/operations', async () => {
    const source = [
      "import { runCli } from '../../src/cli/main.js';",
      "import { renewAll } from '../../src/operations/renew.js';",
      "import type { Solver } from '../../src/acme/solver.js';",
      "import { PluginError } from '../../src/errors.js';",
    ].join('\n');
    expect(await violations('plugins/webroot/probe.ts', source)).toEqual([
      '1:@typescript-eslint/no-restricted-imports',
      '2:@typescript-eslint/no-restricted-imports',
    ]);
  });

  it('src/store may name protocol types but imports no protocol code', async () => {
    const source = [
      "import type { Identifier } from '../acme/types.js';",
      "import { signRequest } from '../acme/jws.js';",
      "import { issueCertificate } from '../operations/issue.js';",
    ].join('\n');
    expect(await violations('src/store/probe.ts', source)).toEqual([
      '2:@typescript-eslint/no-restricted-imports',
      '3:@typescript-eslint/no-restricted-imports',
    ]);
  });

  it('src/crypto imports only src/errors.ts, itself and Node', async () => {
    const source = [
      "import type { Identifier } from '../acme/types.js';",
      "import { escapeLine } from '../output/escape.js';",
      "import { UsageError } from '../errors.js';",
      "import { parsePem } from './pem.js';",
      "import { createHash } from 'node:crypto';",
    ].join('\n');
    expect(await violations('src/crypto/probe.ts', source)).toEqual([
      '1:@typescript-eslint/no-restricted-imports',
      '2:@typescript-eslint/no-restricted-imports',
    ]);
  });

  it('only src/cli ends the process', async () => {
    const source = 'export function stop(): void {\n  process.exit(3);\n}\n';
    expect(await violations('src/operations/probe.ts', source)).toEqual(['2:no-restricted-properties']);
    expect(await violations('plugins/manual/probe.ts', source)).toEqual(['2:no-restricted-properties']);
    expect(await violations('src/cli/probe.ts', source)).toEqual([]);
  });
});
