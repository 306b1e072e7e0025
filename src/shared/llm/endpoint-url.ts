/**
 * What a model endpoint's base URL must look like before anything calls it: http or https, a host, and a port
 * that is a number when a `:` asks for one. WHATWG URL parsing alone accepts `http://127.0.0.1:/v1` (an empty
 * port means the default), which then fails per line at run time; here it is a configuration error at load.
 * @module
 */

/** Connection fields that hold a model endpoint's base URL. */
export const ENDPOINT_URL_FIELDS: ReadonlySet<string> = new Set(['api_base', 'base_url', 'endpoint']);

/**
 * Why `value` is not a usable endpoint base URL, or undefined when it is. `show: false` keeps the value out of
 * the message (a value read from a secret variable).
 */
export function endpointUrlProblem(value: unknown, show = true): string | undefined {
  const clip = (s: string) => (!show ? 'the value' : JSON.stringify(s.length > 120 ? `${s.slice(0, 117)}...` : s));
  if (typeof value !== 'string' || value.trim() === '')
    return 'expected the endpoint URL (http:// or https://), found nothing';
  const text = value.trim();
  // The authority as written: WHATWG parsing normalises an empty port away and reads `http:///v1` as host "v1".
  const written = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i.exec(text);
  if (written && /^https?$/i.test(written[1])) {
    const hostPort = written[2].slice(written[2].lastIndexOf('@') + 1);
    const [, host, port] = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort) ?? [];
    if (!host) return `found no host in ${clip(text)}, expected http(s)://<host>[:<port>]`;
    if (port !== undefined && !/^\d{1,5}$/.test(port))
      return `found port ${JSON.stringify(port)} in ${clip(text)}, expected a number (or no ":")`;
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
      return `found port ${port} in ${clip(text)}, expected 1-65535`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `found ${clip(text)}, expected an absolute URL such as https://<resource>.openai.azure.com`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `found scheme "${url.protocol.slice(0, -1)}" in ${clip(text)}, expected http or https`;
  if (url.hostname === '') return `found no host in ${clip(text)}, expected http(s)://<host>[:<port>]`;
  if (url.username || url.password) return "found credentials in the URL, expected them in the connection's api_key";
  return undefined;
}
