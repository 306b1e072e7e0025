// Bundles the CLI into dist/cli.js (one file, fast start-up). Assets (schemas/, the Python worker)
// stay in the package and are found at run time by walking up from the bundle.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

await build({
  entryPoints: { cli: 'src/cli.ts', demo: 'src/demo.ts', 'serve-cli': 'src/serve-cli.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  // Code reached only through dynamic import (the Azure SDK, tokenizer data) goes to chunks loaded on use: start-up compiles less.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  target: 'node22',
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies inside an ESM bundle still call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __llmopsRequire } from 'node:module'; const require = __llmopsRequire(import.meta.url);",
  },
});
chmodSync('dist/cli.js', 0o755);
