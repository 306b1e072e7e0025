/**
 * A loopback stand-in for Azure AI Content Safety: POST {endpoint}/contentsafety/text:analyze and
 * /text:shieldPrompt, key (Ocp-Apim-Subscription-Key) or bearer auth, every request and response checked
 * against the vendored specification (a mismatch is answered 400 and recorded, so a test sees it). Verdicts
 * are deterministic, from rules a test gives: a text containing a rule's phrase gets its severity; a prompt
 * or document containing an attack phrase is an attack.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContentSafetySpec } from './spec.js';

export interface SeverityRule {
  phrase: string;
  category: 'Hate' | 'SelfHarm' | 'Sexual' | 'Violence';
  severity: number;
}

export interface ContentSafetyStandInOptions {
  key?: string;
  severities?: SeverityRule[];
  attackPhrases?: string[];
}

export interface StandInRequest {
  path: string;
  body: unknown;
  specProblems: string[];
}

export class ContentSafetyStandIn {
  readonly requests: StandInRequest[] = [];
  /** Spec problems of the stand-in's own responses (a bug in the stand-in if ever non-empty). */
  readonly responseProblems: string[] = [];
  url = '';
  private server!: http.Server;
  private readonly spec = new ContentSafetySpec();

  constructor(private readonly options: ContentSafetyStandInOptions = {}) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', this.url);
    const reply = (status: number, body: unknown, opPath?: string) => {
      if (opPath) this.responseProblems.push(...this.spec.checkResponse(opPath, req.method!, status, body));
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const error = (status: number, code: string, message: string) => reply(status, { error: { code, message } });
    if (!url.pathname.startsWith('/contentsafety/')) return error(404, 'NotFound', `no route ${url.pathname}`);
    const opPath = url.pathname.slice('/contentsafety'.length);
    const key = req.headers['ocp-apim-subscription-key'];
    const bearer = req.headers.authorization?.startsWith('Bearer ');
    if (this.options.key ? key !== this.options.key : !key && !bearer)
      return error(401, 'Unauthorized', 'Access denied due to invalid subscription key or wrong API endpoint.');
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return error(400, 'InvalidRequestBody', 'The request body is not JSON.');
    }
    const specProblems = this.spec.checkRequest(opPath, req.method!, url.searchParams, body);
    this.requests.push({ path: opPath, body, specProblems });
    if (specProblems.length) return error(400, 'InvalidRequestBody', specProblems.join('; '));
    if (opPath === '/text:analyze')
      return reply(200, this.analyze(body as { text: string; categories?: string[] }), opPath);
    if (opPath === '/text:shieldPrompt')
      return reply(200, this.shield(body as { userPrompt?: string; documents?: string[] }), opPath);
    return error(404, 'NotFound', `the stand-in does not serve ${opPath}`);
  }

  private analyze(body: { text: string; categories?: string[] }) {
    const categories = body.categories ?? ['Hate', 'SelfHarm', 'Sexual', 'Violence'];
    const text = body.text.toLowerCase();
    return {
      blocklistsMatch: [],
      categoriesAnalysis: categories.map((category) => ({
        category,
        severity: Math.max(
          0,
          ...(this.options.severities ?? [])
            .filter((r) => r.category === category && text.includes(r.phrase.toLowerCase()))
            .map((r) => r.severity),
        ),
      })),
    };
  }

  private shield(body: { userPrompt?: string; documents?: string[] }) {
    const attack = (t: string) =>
      (this.options.attackPhrases ?? []).some((p) => t.toLowerCase().includes(p.toLowerCase()));
    return {
      userPromptAnalysis: { attackDetected: attack(body.userPrompt ?? '') },
      documentsAnalysis: (body.documents ?? []).map((d) => ({ attackDetected: attack(d) })),
    };
  }
}
