/**
 * Images as Prompt Flow handles them (promptflow-formats.md §2.6): loading image inputs wherever they appear
 * (an `image` input, or image dicts inside `list`/`object` inputs such as chat history), in the flow's message
 * format (`basic`: `{"data:image/png;path|base64|url": v}`; `openai-vision`: `{"type": "image_url", "image_url":
 * {"url": v}}` / `{"type": "image_file", "image_file": {"path": v}}`); and persisting images met in outputs as
 * files, referenced in the same format.
 *
 * Loading is synchronous except for URLs: a value holding URLs is walked once, the URLs are fetched (same time
 * limit as model calls), and the value is walked again with the fetched images. Values without images come
 * back as the very same objects, so list and object inputs cost one walk and no copies.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { realOrSelf, realPathOutside } from '../files.js';
import { ImageValue, PromptResult } from './template/index.js';

export type MessageFormat = 'basic' | 'openai-vision';

/** An image input that cannot be used: the message says what was found and what was expected. */
export class ImageInputError extends Error {}

export interface ImageLoadOptions {
  /** Folder relative paths are resolved against. */
  baseDir: string;
  format?: MessageFormat;
  fetchImpl?: typeof fetch;
  /** Time limit of one URL fetch, in ms (the model calls' limit). */
  timeoutMs?: number;
  /**
   * Only fetch URLs whose host resolves to public addresses, redirects included (a served flow: its callers
   * must not make the server fetch internal addresses; Prompt Flow 1.18.2's anti-SSRF rule).
   */
  publicUrlsOnly?: boolean;
  /** Folders image paths may also name, besides `baseDir` and the working directory (the run store's runs). */
  roots?: readonly string[];
}

const MIME_KEY = /^data:image\/(.*);(path|base64|url)$/;
const BASE64 = /^([A-Za-z0-9+/]{4})*(([A-Za-z0-9+/]{2})*(==|[A-Za-z0-9+/]=)?)?$/;
const BASE64_URL = /^data:image\/([^;,]*);base64,(.*)$/s;
const EXT_MIME: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  svg: 'image/svg+xml',
  ico: 'image/x-icon',
};

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain =>
  v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/** The kind of image reference `v` is in `format`, or undefined when it is not one. */
function imageRef(
  v: Plain,
  format: MessageFormat,
): { kind: 'path' | 'base64' | 'url' | 'image_url'; value: unknown; mime?: string } | undefined {
  if (format === 'openai-vision') {
    const keys = Object.keys(v);
    if (keys.length !== 2 || typeof v.type !== 'string') return undefined;
    const inner = v[v.type];
    if (!isPlain(inner)) return undefined;
    if (v.type === 'image_url' && 'url' in inner) return { kind: 'image_url', value: inner.url };
    if (v.type === 'image_file' && 'path' in inner) return { kind: 'path', value: inner.path };
    return undefined;
  }
  let key: string | undefined;
  for (const k in v) {
    if (key !== undefined) return undefined;
    key = k;
  }
  const m = key === undefined ? null : MIME_KEY.exec(key);
  return m ? { kind: m[2] as 'path' | 'base64' | 'url', value: v[key!], mime: `image/${m[1]}` } : undefined;
}

/** True when `v` is an image reference dict in `format` (what loading would turn into an image). */
export function isImageRef(v: unknown, format: MessageFormat = 'basic'): boolean {
  return isPlain(v) && imageRef(v, format) !== undefined;
}

type Fetched = Map<string, ImageValue>;

/**
 * The value of an `image` input (§1.2): an ImageValue, an image dict, or a string (base64 / data URL, URL, or
 * file path, tried in that order). Aggregation inputs are lists of those. Throws ImageInputError.
 */
export function loadImageInput(
  v: unknown,
  options: ImageLoadOptions,
): ImageValue | ImageValue[] | Promise<ImageValue | ImageValue[]> {
  return withFetches(
    (fetched, missing) =>
      Array.isArray(v) ? v.map((x) => oneImage(x, options, fetched, missing)) : oneImage(v, options, fetched, missing),
    options,
  );
}

/** Images inside a `list` / `object` input (lists, dicts, chat history), converted in place of their dicts. */
export function loadNestedImages(v: unknown, options: ImageLoadOptions): unknown {
  if (v === null || typeof v !== 'object') return v;
  return withFetches((fetched, missing) => nested(v, options, fetched, missing), options);
}

function withFetches<T>(
  walk: (fetched: Fetched, missing: Set<string>) => T,
  options: ImageLoadOptions,
): T | Promise<T> {
  const fetched: Fetched = new Map();
  const missing = new Set<string>();
  const first = walk(fetched, missing);
  if (missing.size === 0) return first;
  return (async () => {
    await Promise.all([...missing].map(async (url) => fetched.set(url, await fetchImage(url, options))));
    missing.clear();
    return walk(fetched, missing);
  })();
}

function nested(v: unknown, o: ImageLoadOptions, fetched: Fetched, missing: Set<string>): unknown {
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = nested(v[i], o, fetched, missing);
      if (x !== v[i]) (out ??= v.slice())[i] = x;
    }
    return out ?? v;
  }
  if (!isPlain(v)) return v;
  const ref = imageRef(v, o.format ?? 'basic');
  if (ref) return fromRef(ref, o, fetched, missing);
  // openai-vision text parts are text (Prompt Flow's `Text`, a str): they render and reach Python as strings.
  if (o.format === 'openai-vision') {
    const text = textPart(v);
    if (text !== undefined) return text;
  }
  let out: Plain | undefined;
  for (const k in v) {
    const x = nested(v[k], o, fetched, missing);
    if (x !== v[k]) (out ??= { ...v })[k] = x;
  }
  return out ?? v;
}

/** `{"type": "text", "text": "…"}` (or `"text": {"value": "…"}`) → the text. */
function textPart(v: Plain): string | undefined {
  if (v.type !== 'text' || Object.keys(v).length !== 2) return undefined;
  const text = v.text;
  if (typeof text === 'string') return text;
  if (isPlain(text) && typeof text.value === 'string') return text.value;
  return undefined;
}

function oneImage(v: unknown, o: ImageLoadOptions, fetched: Fetched, missing: Set<string>): ImageValue {
  if (v instanceof ImageValue) return v;
  if (isPlain(v)) {
    const ref = imageRef(v, o.format ?? 'basic');
    if (!ref) {
      const expected =
        o.format === 'openai-vision'
          ? '{"type": "image_url", "image_url": {"url": ...}} or {"type": "image_file", "image_file": {"path": ...}}'
          : '{"data:image/<type>;path|base64|url": <value>}';
      throw new ImageInputError(
        `found the object ${JSON.stringify(v).slice(0, 120)}, expected an image: a file path, a URL, base64 data, or ${expected}`,
      );
    }
    return fromRef(ref, o, fetched, missing) as ImageValue;
  }
  if (typeof v === 'string' || v instanceof PromptResult) return fromString(String(v), o, fetched, missing);
  throw new ImageInputError(
    `found ${describe(v)}, expected an image: a file path, a URL, base64 data or an image object`,
  );
}

function fromRef(
  ref: NonNullable<ReturnType<typeof imageRef>>,
  o: ImageLoadOptions,
  fetched: Fetched,
  missing: Set<string>,
): ImageValue | Plain {
  if (typeof ref.value !== 'string')
    throw new ImageInputError(
      `found ${describe(ref.value)} as the image's ${ref.kind === 'image_url' ? 'url' : ref.kind}, expected text`,
    );
  const value = ref.value;
  switch (ref.kind) {
    case 'path':
      return fromFile(value, o, ref.mime);
    case 'base64':
      if (!BASE64.test(value.split(',').pop()!))
        throw new ImageInputError(
          `found invalid base64 image data ${JSON.stringify(value.slice(0, 40))}${value.length > 40 ? '…' : ''}`,
        );
      return new ImageValue(Buffer.from(value.split(',').pop()!, 'base64'), ref.mime);
    case 'url':
      return fromUrl(value, ref.mime ?? 'image/*', fetched, missing);
    case 'image_url': {
      const data = BASE64_URL.exec(value);
      if (data) return new ImageValue(Buffer.from(data[2], 'base64'), `image/${data[1] || '*'}`);
      if (isUrl(value)) return fromUrl(value, 'image/*', fetched, missing);
      throw new ImageInputError(
        `found the image url ${JSON.stringify(value.slice(0, 80))}, expected an http(s) URL or a data:image/<type>;base64,… URL`,
      );
    }
  }
}

function fromString(v: string, o: ImageLoadOptions, fetched: Fetched, missing: Set<string>): ImageValue {
  if (v.trim() === '')
    throw new ImageInputError('found an empty text, expected an image: a file path, a URL or base64 data');
  const data = BASE64_URL.exec(v);
  if (data) return new ImageValue(Buffer.from(data[2], 'base64'), `image/${data[1] || '*'}`);
  if (isUrl(v)) return fromUrl(v, 'image/*', fetched, missing);
  // Prompt Flow tries base64 before paths; a short text such as "logo" would pass that test, so only long
  // base64 texts are taken as data here and the rest are paths (a missing file then says so).
  if (v.length >= 64 && BASE64.test(v)) return new ImageValue(Buffer.from(v, 'base64'));
  return fromFile(v, o);
}

function fromUrl(url: string, mime: string, fetched: Fetched, missing: Set<string>): ImageValue {
  const got = fetched.get(url);
  if (got) return mime === 'image/*' || got.mimeType === mime ? got : new ImageValue(got.bytes, mime, url);
  missing.add(url);
  // A stand-in the second walk replaces (never leaves the walk).
  return PENDING;
}
const PENDING = new ImageValue(new Uint8Array(0));

function fromFile(path: string, o: ImageLoadOptions, mime?: string): ImageValue {
  if (path.trim() === '') throw new ImageInputError('found an empty path, expected an image file');
  const file = isAbsolute(path) ? path : resolve(o.baseDir, path);
  let isDir = false;
  try {
    isDir = statSync(file).isDirectory();
  } catch {
    throw new ImageInputError(`image file not found: ${file}`);
  }
  if (isDir) throw new ImageInputError(`found the folder ${file}, expected an image file`);
  const ext = /\.(\w+)$/.exec(file)?.[1]?.toLowerCase();
  const bytes = readFileSync(inside(path, file, [o.baseDir, process.cwd(), ...(o.roots ?? [])]));
  const notImage = notAnImage(bytes);
  if (notImage)
    throw new ImageInputError(
      `found ${file}, ${notImage}; expected an image file (PNG, JPEG, GIF, WebP, BMP, TIFF, ICO, HEIC/AVIF or SVG)`,
    );
  return new ImageValue(bytes, mime ?? (ext && EXT_MIME[ext]) ?? 'image/*');
}

/**
 * The real path of an image file an input names, which must lie inside the folder it is resolved against (the
 * flow's or the data's) or the working directory: a served request or a dataset must not make the engine read,
 * and send on to a model, any file it can reach.
 */
function inside(given: string, file: string, allowed: readonly string[]): string {
  const outside = realPathOutside(file, allowed);
  if (outside) {
    throw new ImageInputError(
      `image path ${JSON.stringify(given)} resolves to ${outside}, outside the flow or data folder and the working directory; expected an image inside them, a base64 image or a URL`,
    );
  }
  return realOrSelf(file);
}

/**
 * Why `bytes` are not an image, or undefined when they start like one. Prompt Flow passes any file on; a path
 * pointing at the wrong file (a data file, a script) then fails later at the model with a vaguer message.
 */
function notAnImage(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return 'an empty file';
  const ascii = (from: number, to: number) => Buffer.from(bytes.subarray(from, to)).toString('latin1');
  const b = bytes;
  const known =
    (b[0] === 0x89 && ascii(1, 4) === 'PNG') ||
    (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) ||
    ascii(0, 4) === 'GIF8' ||
    (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') ||
    ascii(0, 2) === 'BM' ||
    ascii(0, 4) === 'II*\u0000' ||
    ascii(0, 4) === 'MM\u0000*' ||
    (b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0) ||
    ascii(4, 8) === 'ftyp' ||
    /^P[1-7]\s/.test(ascii(0, 3)) ||
    ascii(0, 4) === '8BPS' ||
    ascii(0, 4) === 'qoif' ||
    /^(\ufeff|\xef\xbb\xbf)?\s*<(\?xml|svg|!doctype svg)/i.test(ascii(0, 64));
  return known ? undefined : 'which does not start like an image file';
}

function isUrl(v: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/\s]+/i.test(v) && /^https?:/i.test(v);
}

async function fetchImage(url: string, o: ImageLoadOptions): Promise<ImageValue> {
  const timeoutMs = o.timeoutMs ?? 600_000;
  let res: Response;
  try {
    res = o.publicUrlsOnly
      ? await fetchPublic(url, o, AbortSignal.timeout(timeoutMs))
      : await (o.fetchImpl ?? fetch)(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    if (e instanceof ImageInputError) throw e;
    const err = e as { name?: string; cause?: { code?: string; message?: string }; message?: string };
    const why =
      err.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : (err.cause?.code ?? err.cause?.message ?? err.message);
    throw new ImageInputError(`Failed to fetch image from URL: ${url}: ${why}`);
  }
  if (res.status !== 200) {
    const text = (await res.text().catch(() => '')).slice(0, 200);
    throw new ImageInputError(
      `Failed to fetch image from URL: ${url}. Error code: ${res.status}. Error message: ${text}.`,
    );
  }
  const type = res.headers.get('content-type')?.split(';')[0].trim().toLowerCase();
  const bytes = new Uint8Array(await res.arrayBuffer());
  const notImage = type?.startsWith('image/') ? undefined : notAnImage(bytes);
  if (notImage)
    throw new ImageInputError(
      `Failed to fetch image from URL: ${url}: the answer (${type ?? 'no content type'}) is ${notImage === 'an empty file' ? 'empty' : 'not an image'}`,
    );
  return new ImageValue(bytes, type?.startsWith('image/') ? type : 'image/*', url);
}

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

function isPrivateAddress(address: string, family: number): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1], 'ipv4');
  return PRIVATE.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** fetch that refuses hosts resolving to private, loopback or link-local addresses, at every redirect. */
async function fetchPublic(url: string, o: ImageLoadOptions, signal: AbortSignal): Promise<Response> {
  let current = url;
  for (let hop = 0; hop < 5; hop++) {
    const host = new URL(current).hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
    if (addresses.some((a) => isPrivateAddress(a.address, a.family))) {
      throw new ImageInputError(
        `Failed to fetch image from URL: ${url}: ${current === url ? 'its host' : `it redirects to ${current}, whose host`} is a private, loopback or link-local address, which a served flow does not fetch`,
      );
    }
    const res = await (o.fetchImpl ?? fetch)(current, { signal, redirect: 'manual' });
    const next = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
    if (!next) return res;
    await res.body?.cancel();
    current = new URL(next, current).toString();
  }
  throw new ImageInputError(`Failed to fetch image from URL: ${url}: more than 5 redirects`);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (null)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  return `a value of type ${typeof v}`;
}

/** Where persisted images go: `root/subdir/<uuid>.<ext>`, referenced as `subdir/<uuid>.<ext>` (relative to root). */
export interface ImageSink {
  /** The folder references are relative to (a run's folder). */
  root: string;
  /** Sub-folder of root the files go to ('' for root itself). */
  subdir: string;
  format?: MessageFormat;
}

/**
 * A value as it is recorded (§2.6, §6.7): images become file references in the flow's format (saved under the
 * sink's folder; an image that came from a URL keeps its URL), or base64 dicts when there is no sink (a
 * served response); prompt results become their text. Other values come back as they are.
 */
export function toRecordValue(v: unknown, sink?: ImageSink): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof PromptResult) return v.text;
  if (v instanceof ImageValue) return imageReference(v, sink);
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = toRecordValue(v[i], sink);
      if (x !== v[i]) (out ??= v.slice())[i] = x;
    }
    return out ?? v;
  }
  if (!isPlain(v)) return v;
  let out: Plain | undefined;
  for (const k in v) {
    const x = toRecordValue(v[k], sink);
    if (x !== v[k]) (out ??= { ...v })[k] = x;
  }
  return out ?? v;
}

const saved = new WeakMap<ImageValue, Map<string, string>>();

function imageReference(img: ImageValue, sink?: ImageSink): Plain {
  const format = sink?.format ?? 'basic';
  if (img.sourceUrl)
    return format === 'openai-vision'
      ? { type: 'image_url', image_url: { url: img.sourceUrl } }
      : { [`data:${img.mimeType};url`]: img.sourceUrl };
  if (!sink)
    return format === 'openai-vision'
      ? { type: 'image_url', image_url: { url: img.toUrl() } }
      : { [`data:${img.mimeType};base64`]: img.toBase64() };
  // The same image referenced twice in a line (an output and an aggregation input) is written once.
  let bySink = saved.get(img);
  const dir = join(sink.root, sink.subdir);
  let path = bySink?.get(dir);
  if (!path) {
    const ext = img.mimeType.split('/').pop();
    const name = `${randomUUID()}${ext && ext !== '*' ? `.${ext}` : ''}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), img.bytes);
    path = sink.subdir ? `${sink.subdir}/${name}` : name;
    if (!bySink) saved.set(img, (bySink = new Map()));
    bySink.set(dir, path);
  }
  return format === 'openai-vision'
    ? { type: 'image_file', image_file: { path } }
    : { [`data:${img.mimeType};path`]: path };
}

/** Images in a value the Python worker returned (`{"data:<mime>;base64": …}` dicts) as ImageValues. */
export function imagesFromWorker(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = imagesFromWorker(v[i]);
      if (x !== v[i]) (out ??= v.slice())[i] = x;
    }
    return out ?? v;
  }
  if (!isPlain(v)) return v;
  const ref = imageRef(v, 'basic');
  if (ref?.kind === 'base64' && typeof ref.value === 'string')
    return new ImageValue(Buffer.from(ref.value, 'base64'), ref.mime);
  let out: Plain | undefined;
  for (const k in v) {
    const x = imagesFromWorker(v[k]);
    if (x !== v[k]) (out ??= { ...v })[k] = x;
  }
  return out ?? v;
}

/**
 * Image file references in `value` made absolute against `baseDir` (Prompt Flow's
 * `resolve_multimedia_data_recursively`): how another run reads a run's recorded outputs (`${run.outputs.x}`),
 * whose references are relative to that run's folder. Both formats are recognised.
 */
export function resolveImagePaths(value: unknown, baseDir: string): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const x = resolveImagePaths(value[i], baseDir);
      if (x !== value[i]) (out ??= value.slice())[i] = x;
    }
    return out ?? value;
  }
  if (!isPlain(value)) return value;
  const basic = imageRef(value, 'basic');
  if (basic?.kind === 'path' && typeof basic.value === 'string' && !isAbsolute(basic.value)) {
    const key = Object.keys(value)[0];
    return { [key]: resolve(baseDir, basic.value) };
  }
  const vision = imageRef(value, 'openai-vision');
  if (vision?.kind === 'path' && typeof vision.value === 'string' && !isAbsolute(vision.value))
    return { type: 'image_file', image_file: { path: resolve(baseDir, vision.value) } };
  let out: Plain | undefined;
  for (const k in value) {
    const x = resolveImagePaths(value[k], baseDir);
    if (x !== value[k]) (out ??= { ...value })[k] = x;
  }
  return out ?? value;
}
