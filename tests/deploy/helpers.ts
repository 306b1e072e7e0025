/** The deploy tests' use case (an llm flow with two variants against the local model server) and serve CLI bundle. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { makeUseCase } from '../helpers/use-case-dir.js';

/** Bundles tests/deploy/fixtures/serve-cli.ts into dist/ (beside the CLI bundle: assets are found by walking up). */
export function buildServeCli(): string {
  const out = path.resolve('dist/test-serve-cli.mjs');
  {
    const script = `import { build } from 'esbuild';
await build({ entryPoints: ['tests/deploy/fixtures/serve-cli.ts'], outfile: ${JSON.stringify(out)}, bundle: true, platform: 'node', format: 'esm', target: 'node22', logLevel: 'warning',
  banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" } });`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
  }
  return out;
}

const variant = (id: string) => `      ${id}:
        node:
          type: llm
          source: {type: code, path: ${id}.jinja2}
          connection: aoai
          api: chat
          inputs:
            deployment_name: gpt-4o-mini
            question: \${inputs.question}
`;

export function deployUseCase(extra: Record<string, string> = {}) {
  return makeUseCase({
    'flows/std/flow.dag.yaml': `inputs:
  question: {type: string}
outputs:
  answer: {type: string, reference: '\${chat.output}'}
nodes:
- name: chat
  use_variants: true
node_variants:
  chat:
    default_variant_id: v0
    variants:
${variant('v0')}${variant('v1')}`,
    'flows/std/v0.jinja2': '# user:\nv0 {{question}}\n',
    'flows/std/v1.jinja2': '# user:\nv1 {{question}}\n',
    'sample-request.json': '{"question": "hello"}\n',
    ...extra,
  });
}
