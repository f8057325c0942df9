// ESLint with typescript-eslint's type-aware rules, and the import boundaries the layout rests on
// (README "Layout"). `npm run lint` runs it; `npm test` runs it before the tests.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** A `no-restricted-imports` pattern entry that forbids importing from the named src/ layers. */
function forbidLayers(layers, message, allowTypeImports = false) {
  return {
    group: layers.flatMap((layer) => [`**/${layer}/*`, `**/${layer}/**`]),
    message,
    allowTypeImports,
  };
}

const FILESYSTEM_AND_PROCESSES = [
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'child_process',
  'node:child_process',
];

/** One boundary: the files it holds for, what they must not import, and why. */
function boundary(files, patterns, paths = []) {
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns,
          paths: paths.map((name) => ({
            name,
            message: 'src/acme is the protocol core: no filesystem, no processes.',
          })),
        },
      ],
    },
  };
}

/** The layering of README "Development"; test/unit/lint/layers.test.ts lints probes against it. */
export const layerBoundaries = [
  {
    files: ['src/**/*.ts', 'plugins/**/*.ts'],
    rules: {
      // Only the CLI decides that the process ends (src/cli/main.ts); every other layer throws.
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'exit',
          message: 'Throw a typed error from src/errors.ts; src/cli ends the process.',
        },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  boundary(
    ['src/acme/**/*.ts'],
    [
      forbidLayers(
        ['store', 'operations', 'cli', 'challenges', 'hooks', 'schedule', 'plugins'],
        'src/acme is the protocol core: it takes keys and a solver; it imports no store, operation, CLI or plugin.',
      ),
    ],
    FILESYSTEM_AND_PROCESSES,
  ),
  boundary(
    ['plugins/**/*.ts'],
    [forbidLayers(['cli', 'operations'], 'A challenge plugin sits below the commands: no CLI or operation imports.')],
  ),
  boundary(
    ['src/store/**/*.ts'],
    [
      forbidLayers(['acme'], 'src/store may name protocol types but runs no protocol code.', true),
      forbidLayers(['operations', 'cli', 'challenges', 'plugins'], 'src/store sits below operations and commands.'),
    ],
  ),
  boundary(
    ['src/crypto/**/*.ts'],
    [
      forbidLayers(
        ['acme', 'store', 'operations', 'cli', 'challenges', 'hooks', 'schedule', 'output', 'plugins'],
        'src/crypto is the bottom layer: it imports only src/errors.ts and Node.',
      ),
    ],
  ),
];

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.cache/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // An async function without await is how an interface method that may wait elsewhere says so.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Its fixes disagreed with tsc here (it called `a ?? (b as T)` unnecessary where tsc needs it).
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Validators and escapers match control characters on purpose: that is what they refuse.
      'no-control-regex': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowAny: true,
          allowBoolean: true,
          allowNullish: true,
          allowNumber: true,
          allowRegExp: true,
          // TsigKey's toString names the key and redacts its secret; messages print it on purpose.
          allow: [
            { from: 'lib', name: ['Error', 'URL', 'URLSearchParams'] },
            { from: 'file', name: 'TsigKey', path: 'plugins/nsupdate/tsig.ts' },
          ],
        },
      ],
    },
  },
  ...layerBoundaries,
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read the CLI's JSON output and the CA's documents as untyped data on purpose.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // Test servers take async request handlers that end the response themselves.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // esbuild injects this file into the CommonJS bundle, where require is the module system.
    files: ['scripts/import-meta-url.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
