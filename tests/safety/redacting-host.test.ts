/**
 * The host's output redacted like secret masking: every text a step writes (log lines, annotations, the failure,
 * the summary, the pull-request comment) passes the use case's redactor, in the order it was written.
 */
import type { Host } from '../../src/shared/host/host.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { runStep } from '../../src/packaging/run-step.js';
import { redactHostOutput, settleHostOutput } from '../../src/shared/safety/redacting-host.js';
import { createRedactor, type Redactor } from '../../src/shared/safety/redactor.js';

const email = 'jane.roe@contoso.org';
const card = '4111 1111 1111 1111';

test('every text the host writes is redacted, in the order it was written, and masking still applies', async () => {
  const host = new MemoryHost();
  host.mask('sk-secret-1234');
  const comments: string[] = [];
  const withComments = Object.assign(host, {
    publishComment: async (markdown: string) => void comments.push(markdown),
  });
  redactHostOutput(withComments, createRedactor(['email', 'payment_card']));
  host.info(`write to ${email}`);
  host.debug(`card ${card}`);
  host.warning(`key sk-secret-1234 for ${email}`, { file: 'data/train.jsonl', line: 3 });
  host.error(`line 2 failed: ${card}`);
  await host.appendSummary(`| ${email} |`);
  await withComments.publishComment(`comment ${email}`);
  host.fail(`failed for ${email}`, 1);
  host.info('last');
  await settleHostOutput(host);

  expect(host.lines.map((l) => [l.level, l.message.replace(/_\d+\]/g, ']')])).toEqual([
    ['info', 'write to [EMAIL]'],
    ['debug', 'card [CREDIT_CARD]'],
    ['warning', 'key *** for [EMAIL]'],
    ['error', 'line 2 failed: [CREDIT_CARD]'],
    ['info', 'last'],
  ]);
  expect(host.lines[2].at).toEqual({ file: 'data/train.jsonl', line: 3 });
  expect(host.summary).toMatch(/^\| \[EMAIL_\d+\] \|$/);
  expect(comments).toEqual([expect.stringMatching(/^comment \[EMAIL_\d+\]$/)]);
  expect(host.failure).toEqual({ message: expect.stringMatching(/^failed for \[EMAIL_\d+\]$/), exitCode: 1 });
  expect(host.transcript).not.toContain(email);
  expect(host.transcript).not.toContain(card);
});

test('a line the redactor cannot process is withheld, and the lines after it are still written', async () => {
  const host = new MemoryHost();
  const failing: Redactor = {
    ...createRedactor(['email']),
    redact: async (text) => {
      if (text.includes('boom')) throw new Error('detector failed');
      return text;
    },
  };
  redactHostOutput(host, failing);
  host.info(`boom ${email}`);
  host.info('after');
  await settleHostOutput(host);
  expect(host.lines.map((l) => l.message)).toEqual(['[line withheld: personal data redaction failed]', 'after']);
});

test('a host redacts once however often the use case is loaded, and settles at once when it does not redact', async () => {
  const host = new MemoryHost();
  await settleHostOutput(host);
  let calls = 0;
  const counting: Redactor = { ...createRedactor(['email']), redact: async (t) => (calls++, t) };
  redactHostOutput(host, counting);
  redactHostOutput(host, counting);
  host.info('once');
  await settleHostOutput(host);
  expect(calls).toBe(1);
});

test('a secret is masked whole before personal data is looked for in it', async () => {
  const host = new MemoryHost();
  redactHostOutput(host, createRedactor(['email']));
  // Were the address inside it redacted first, the rest of the secret would no longer match and would show.
  const secret = 'User=ops.team@contoso.org;Password=zz-secret-value';
  host.mask(secret);
  host.info(`connecting with ${secret} for ${email}`);
  await settleHostOutput(host);
  expect(host.lines.map((l) => l.message)).toEqual([
    expect.stringMatching(/^connecting with \*\*\* for \[EMAIL_\d+\]$/),
  ]);
});

test('a packaged step run with LLMOPS_REDACT_PII: its lines, its error and its failure are written redacted before it returns', async () => {
  const host = new MemoryHost();
  const step = {
    name: 'leaky',
    description: 'logs and throws personal data',
    inputs: [],
    outputs: [],
    async run(_inputs: unknown, h: Host) {
      h.info(`sending to ${email}`);
      h.warning(`card ${card} declined`);
      throw new Error(`no answer from ${email}`);
    },
  };
  const saved = process.env.LLMOPS_REDACT_PII;
  process.env.LLMOPS_REDACT_PII = 'email,payment_card';
  try {
    expect(await runStep(step, host)).toBe(70);
  } finally {
    if (saved === undefined) delete process.env.LLMOPS_REDACT_PII;
    else process.env.LLMOPS_REDACT_PII = saved;
  }
  // Everything is written by the time runStep returns: nothing left waiting for the redactor.
  expect(host.lines.map((l) => l.level)).toEqual(['info', 'warning', 'error']);
  expect(host.lines[0].message).toMatch(/^sending to \[EMAIL_\d+\]$/);
  expect(host.failure?.message).toMatch(/\[EMAIL_\d+\]/);
  expect(host.summary).toMatch(/\[EMAIL_\d+\]/);
  expect(host.transcript).not.toContain(email);
  expect(host.transcript).not.toContain(card);
});
