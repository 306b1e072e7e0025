/**
 * The README's step reference (CLI flags, action inputs, task inputs, outputs), generated from
 * the same declarations as action.yml and task.json, between two markers.
 * @module
 */
import { camel } from '../shared/steps/declare.js';
import type { PackagedStep } from './steps.js';

export const README_BEGIN = '<!-- generated: step reference (npm run generate) -->';
export const README_END = '<!-- end of generated step reference -->';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function stepReference(steps: readonly PackagedStep[]): string {
  const parts: string[] = [];
  for (const { step } of steps) {
    parts.push(
      `#### \`llmops ${step.name}\` · \`uses: <org>/llmops/actions/${step.name}@v1\` · task \`Llmops${step.name
        .split('-')
        .map((w) => w[0].toUpperCase() + w.slice(1))
        .join('')}@0\``,
      '',
      step.description,
      '',
    );
    parts.push('| CLI flag / action input | task input | type | default | description |', '|---|---|---|---|---|');
    for (const i of step.inputs) {
      const type = i.type === 'choice' ? i.choices!.join(' \\| ') : i.type;
      parts.push(
        `| \`--${i.name}\`${i.required ? ' (required)' : ''} | \`${camel(i.name)}\` | ${cell(type)} | ${i.default ? `\`${cell(i.default)}\`` : ''} | ${cell(i.description)} |`,
      );
    }
    parts.push('', `Outputs: ${step.outputs.map((o) => `\`${o.name}\` (${cell(o.description)})`).join('; ')}.`, '');
  }
  return parts.join('\n');
}

/** The README with its generated section replaced (unchanged when it has no markers). */
export function readmeWithReference(readme: string, steps: readonly PackagedStep[]): string {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) return readme;
  return `${readme.slice(0, begin + README_BEGIN.length)}\n\n${stepReference(steps)}\n${readme.slice(end)}`;
}
