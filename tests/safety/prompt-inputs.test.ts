/** Which inputs reach a prompt: a prompty's template decides for a prompty flow; names decide where code does. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadFlow } from '../../src/shared/flow/index.js';
import { promptInputs, readsAsConfiguration } from '../../src/shared/safety/prompt-inputs.js';

test('a prompty flow: the inputs its template uses, in an expression or a statement', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'prompt-inputs-'));
  try {
    const file = path.join(dir, 'chat.prompty');
    writeFileSync(
      file,
      `---
name: chat
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: gpt-4o
    connection: aoai
inputs:
  question:
    type: string
  firstName:
    type: string
    default: Ann
  lastName:
    type: string
    default: Lee
  deployment_name:
    type: string
    default: gpt-4o
---
system:
{% if firstName %}Address {{ firstName | upper }} by name.{% endif %}
user:
{{question}}
`,
    );
    expect(promptInputs(loadFlow(file, { displayBase: dir }))).toEqual({
      prompt: ['question', 'firstName'],
      left: [
        { input: 'lastName', why: 'the prompty template does not use it' },
        { input: 'deployment_name', why: 'the prompty template does not use it' },
      ],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.each([
  ['deployment_name', true],
  ['deploymentName', true],
  ['assistant_id', true],
  ['pdf_url', true],
  ['api-version', true],
  ['question', false],
  ['text', false],
  ['entity_type', false],
  ['user_identity', false],
])('%s reads as configuration: %s', (name, expected) => {
  expect(readsAsConfiguration(name)).toBe(expected);
});
