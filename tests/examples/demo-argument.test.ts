/** `npm run demo -- <example>`: an unknown example name is an input error (exit 2) naming the examples there are. */
import { spawnSync } from 'node:child_process';

test.each(['no_such_example', '../web_classification'])(
  'demo %s: exit 2, nothing run, the known examples listed',
  (name) => {
    const r = spawnSync(process.execPath, ['dist/demo.js', name], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`demo: no example "${name}" in examples/; expected one of `);
    for (const example of [
      'chat_app',
      'code_generation',
      'math_coding',
      'named_entity_recognition',
      'web_classification',
    ])
      expect(r.stderr).toContain(example);
    expect(r.stderr).not.toContain('local model server');
  },
);
