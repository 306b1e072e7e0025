/**
 * A python node's `AssistantDefinition` input names a YAML file in the flow's folder (promptflow-formats.md §1.6,
 * `assistant_definition` value type): the tool receives the definition with a tool invoker whose tools have their
 * predefined inputs (a connection name here) resolved like node inputs.
 */
import { resolve } from 'node:path';
import type { Connection } from '../../../src/shared/config/connections.js';
import { ConfigError } from '../../../src/shared/errors.js';
import { loadFlow } from '../../../src/shared/flow/index.js';
import { createExecutor } from '../../../src/shared/engine/index.js';

const FLOW = resolve('tests/engine/python-worker/fixtures/assistant_flow');
const aoai: Connection = {
  name: 'aoai',
  type: 'AzureOpenAIConnection',
  value: { api_key: 'k', api_base: 'http://127.0.0.1:9' },
  secretKeys: ['api_key'],
};

test('the definition file becomes an AssistantDefinition with a working tool invoker', async () => {
  const ex = await createExecutor(loadFlow(FLOW), { connections: [aoai] });
  try {
    const r = await ex.runLine({ message: 'hello' });
    expect(r.error).toBeUndefined();
    expect(r.outputs!.output).toEqual({
      model: 'my-model',
      instructions: 'Answer with the tools.',
      tools: [
        { type: 'code_interpreter' },
        {
          type: 'function',
          function: {
            name: 'shout',
            description: 'Shout the text back.\n',
            parameters: {
              type: 'object',
              properties: {
                text: { description: 'What to shout.', type: 'string' },
                exclamations: { description: 'How many exclamation marks.', type: 'number' },
              },
              required: ['text'],
            },
          },
        },
      ],
      answer: 'HELLO!! (AzureOpenAIConnection aoai)',
    });
  } finally {
    await ex.close();
  }
});

test('a definition file that does not exist is refused before any line runs', async () => {
  const err = await createExecutor(loadFlow(resolve('tests/engine/python-worker/fixtures/assistant_missing')), {
    connections: [aoai],
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toMatch(
    /assistant definition "missing\.yaml": file .*assistant_missing\/missing\.yaml not found; expected a YAML file with model, instructions and tools/,
  );
});
