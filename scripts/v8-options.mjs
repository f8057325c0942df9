// V8 options for every way acmecli starts: baked into the single binaries, and in the launcher's
// `#!/usr/bin/env -S node ...` line for the npm-installed command (npm's Windows shims read that
// line too). V8 takes them only at start-up. A run lasts about a second: V8's optimizing
// compilers (their machine code and compile zones are resident memory) and a young generation
// left to grow cost more memory than they save time (`npm run bench` shows both).
// --no-icu-timezone-data: local time from the C library, not ICU's time-zone tables, which load on
// the first `new Date()` (acmecli prints UTC times only).
export const V8_OPTIONS = ['--lite-mode', '--max-semi-space-size=1', '--no-icu-timezone-data'];
