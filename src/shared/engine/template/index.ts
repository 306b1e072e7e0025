/**
 * The template layer of the native Prompt Flow engine: Jinja rendering with Prompt Flow's settings and Python
 * value semantics, chat message parsing, role-injection escaping and image lines. See README.md.
 * @module
 */
export {
  compileTemplate,
  renderTemplate,
  syntaxProblem,
  toJinjaError,
  CompiledTemplate,
  type RenderOptions,
} from './template.js';
export { findTemplateVariables, findUndeclaredVariables, type TemplateVariable } from './variables.js';
export {
  parseChat,
  toContent,
  findRoleLines,
  VALID_ROLES,
  type RoleLine,
  type ChatMessage,
  type ChatContentPart,
  type ParseChatOptions,
} from './chat-parser.js';
export { renderPromptNode, buildChatMessages, type BuildMessagesOptions } from './prompt.js';
export { buildEscapeMap, escapeInputs, escapeRoles, unescapeRoles, unescapeMessages, addEscapesFor } from './escape.js';
export { PromptResult, unwrapPromptResult, type EscapeMap } from './prompt-result.js';
export { ImageValue, preprocessImageTemplate, findImageInputs, collectImages } from './image.js';
export {
  PyFloat,
  pyFloat,
  ChatInputList,
  toChatInputList,
  Undefined,
  pyStr,
  pyRepr,
  pyFloatRepr,
  pyTruthy,
  pyEquals,
} from './py-value.js';
export { pyJsonDumps, type PyJsonOptions } from './py-json.js';
export { parsePythonLiteral } from './py-literal.js';
export {
  TemplateSyntaxError,
  TemplateEvalError,
  JinjaTemplateError,
  ChatParseError,
  type ChatParseErrorCode,
} from './errors.js';
export {
  setRenderLimits,
  renderLimits,
  renderLimitsFromEnv,
  resetRenderLimits,
  DEFAULT_RENDER_LIMITS,
  STEPS_ENV,
  OUTPUT_ENV,
  type RenderLimits,
} from './budget.js';
