/**
 * `llmops parity`: the parity step (steps/parity.ts) as a command: its flags are the step's declared inputs, like
 * the GitHub action's and the Azure DevOps task's, with the long help on what it compares.
 * @module
 */
import type { Command } from 'commander';
import { addStepCommand } from '../cli-support.js';
import { parityStep } from '../shared/steps/parity.js';

export function registerParityCommand(program: Command): void {
  addStepCommand(
    program,
    parityStep,
    `  $ llmops parity --config examples/web_classification/experiment.yaml --dry-run
  $ llmops parity --config experiment.yaml --margin 0.02 --output-dir reports/parity

What it does:
  Runs parity.baseline (default: the experiment's flow) and parity.candidate on parity.dataset as two ordinary
  runs in the store, then compares each line: exact agreement of the compared outputs, semantic similarity
  (parity.embeddings), an LLM-judged equivalence score (parity.judge) and every evaluator's score on both
  sides: every evaluator of the experiment (or those parity.evaluators names) runs on each side's run as the
  evaluate step runs it — built-ins (line scorers, LLM judges, safety evaluators) and evaluation flows (each
  numeric output is a score); code-only eval_*.py folders score whole runs and are left out (refused when
  named). Similarity, judged equivalence and the differences are clustered by cluster_by. "Equivalent within δ"
  needs both:
    - the one-sided ${'(1 − α)'} upper bound of the disagreement rate (Wilson; with cluster_by, cluster-robust and
      never narrower) below δ, and
    - for every evaluator, two one-sided tests (TOST) on the mean paired difference: its (1 − 2α) interval
      inside (−δ, +δ); clustered by the dataset's cluster_by column when it has one. δ is parity.margin (or
      --margin), unless parity.margins gives the evaluator its own on its scale (a 1–5 judge, latency in ms);
      an evaluation flow's output by <evaluator>.<output>. The verdict and reports name each evaluator's δ.
  The report lists the lines that disagree most first. Exit 1 when not equivalent (parity.gate: false to
  report only), 2 for invalid input, 3 when a target or model failed after retries.

experiment.yaml:
  parity:
    candidate:
      target: http
      url: \${AGENT_URL}/agent/run
      headers: { Authorization: "Bearer \${AGENT_KEY}" }
      body: { messages: [{ role: user, contents: [{ type: text, text: "\${inputs.url}" }] }] }
      outputs: { category: $.value.category }
    dataset: web_classification_train
    margin: 0.05
    margins: { judged: 0.5, latency: 50 }
    embeddings: { connection: aoai, deployment: text-embedding-3-small }
    judge: { connection: aoai, deployment: gpt-4o }
    evaluators: [exact, judged, latency]`,
  );
}
