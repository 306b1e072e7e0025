/** `npm run generate`: write every generated packaging file (see generate.ts). */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { generatedFiles, packageVersion } from './generate.js';
import { readmeWithReference } from './readme.js';
import { packagedSteps } from './steps.js';

const root = process.cwd();
let changed = 0;
for (const [file, content] of generatedFiles(packageVersion(root))) {
  const target = path.join(root, file);
  if (existsSync(target) && readFileSync(target, 'utf8') === content) continue;
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, content);
  changed++;
  process.stdout.write(`wrote ${file}\n`);
}
const readmeFile = path.join(root, 'README.md');
const readme = readFileSync(readmeFile, 'utf8');
const updated = readmeWithReference(readme, packagedSteps);
if (updated !== readme) {
  writeFileSync(readmeFile, updated);
  changed++;
  process.stdout.write('wrote README.md (step reference)\n');
}
process.stdout.write(changed ? `${changed} file(s) updated\n` : 'all generated files are up to date\n');
