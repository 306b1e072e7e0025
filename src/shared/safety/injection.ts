/**
 * Local prompt-injection and jailbreak heuristics: documented rules, each a pattern with an id and what it
 * catches, versioned so a metric computed with them can be compared across runs (a change of rule set bumps
 * RULES_VERSION). They flag text that tries to override instructions; they are cheap and deterministic, not a
 * classifier: Prompt Shields (content-safety.ts) is the model-based check when an endpoint is configured.
 */

export const RULES_VERSION = '2026-12-1';

export type AttackKind = 'prompt_injection' | 'jailbreak';

export interface HeuristicRule {
  id: string;
  kind: AttackKind;
  /** What the rule catches, shown in findings and in the docs. */
  catches: string;
  pattern: RegExp;
}

const rule = (id: string, kind: AttackKind, catches: string, pattern: RegExp): HeuristicRule => ({
  id,
  kind,
  catches,
  pattern,
});

export const HEURISTIC_RULES: readonly HeuristicRule[] = [
  rule(
    'override-instructions',
    'prompt_injection',
    'asks to ignore, forget or disregard the previous/system instructions',
    /\b(ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,40}\b(previous|prior|above|earlier|preceding|all|any|your|the|system|original)\b[^.\n]{0,30}\b(instructions?|prompts?|rules|directives|guidelines|context|messages?)\b/i,
  ),
  rule(
    'new-instructions',
    'prompt_injection',
    'announces replacement instructions ("new instructions:", "from now on you will")',
    /\b(new|updated|real|actual|revised)\s+(instructions?|system prompt|rules)\s*:|\bfrom now on,?\s+(you|your)\b/i,
  ),
  rule(
    'reveal-prompt',
    'prompt_injection',
    'asks to reveal, print or repeat the system prompt or hidden instructions',
    /\b(reveal|print|show|repeat|output|display|tell me|leak|what (is|are))\b[^.\n]{0,40}\b(system|hidden|initial|original|secret)\s+(prompt|instructions?|message|rules)\b/i,
  ),
  rule(
    'role-marker',
    'prompt_injection',
    'forges a chat role or a template delimiter inside the text (system:, <|im_start|>, [INST])',
    /(^|\n)\s*(#{1,3}\s*)?(system|assistant|developer)\s*:|<\|(im_start|im_end|system|endoftext)\|>|\[\/?INST\]|<\/?(system|sys)>/i,
  ),
  rule(
    'exfiltrate',
    'prompt_injection',
    'asks to send data to a URL or to embed it in a link or image',
    /\b(send|post|upload|exfiltrate|forward)\b[^.\n]{0,60}\bhttps?:\/\/|!\[[^\]]*\]\(https?:\/\/[^)]*\{/i,
  ),
  rule(
    'dan',
    'jailbreak',
    'the "DAN" / "do anything now" family of jailbreak personas',
    /\bDAN\b|\bdo anything now\b|\bSTAN\b|\bDUDE\b(?= mode)|\bAIM\b(?=[^.\n]{0,40}machiavellian)/,
  ),
  rule(
    'mode-switch',
    'jailbreak',
    'claims a special mode without rules (developer mode, god mode, unrestricted/unfiltered mode)',
    /\b(developer|dev|god|admin|debug|unrestricted|unfiltered|uncensored|jailbreak|jailbroken)\s+mode\b/i,
  ),
  rule(
    'no-restrictions',
    'jailbreak',
    'asks the model to act without its rules, filters, ethics or policies',
    /\b(without|no|free (of|from)|ignore|not bound by|break free of)\b[^.\n]{0,30}\b(restrictions?|filters?|limitations?|guidelines|ethics|morals|policies|content polic(y|ies)|censorship|safety)\b/i,
  ),
  rule(
    'persona-bypass',
    'jailbreak',
    'a role-play set up to bypass rules ("pretend you are an AI that can…", "stay in character")',
    /\b(pretend|act as if|imagine|role-?play|you are now)\b[^.\n]{0,60}\b(no (rules|limits|restrictions)|can do anything|evil|unrestricted|not an? (ai|assistant)|without (rules|limits))\b|\bstay in character\b/i,
  ),
  rule(
    'hypothetical-harm',
    'jailbreak',
    'wraps a forbidden request in fiction or hypotheticals ("for a novel, explain exactly how to…")',
    /\b(hypothetically|in a fictional|for a (novel|story|movie)|purely educational)\b[^.\n]{0,80}\b(how to (make|build|synthesi[sz]e|hack|steal)|step[- ]by[- ]step)\b/i,
  ),
];

export interface HeuristicVerdict {
  flagged: boolean;
  /** Ids of the rules that matched. */
  rules: string[];
}

/** The rules of one kind (or both) that match the text. */
export function checkHeuristics(text: string, kinds: readonly AttackKind[]): HeuristicVerdict {
  const rules = HEURISTIC_RULES.filter((r) => kinds.includes(r.kind) && r.pattern.test(text)).map((r) => r.id);
  return { flagged: rules.length > 0, rules };
}
