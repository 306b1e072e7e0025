/** `azureml:` dataset sources as experiment.yaml writes them. No dependencies: the config checks use it. */

/** `azureml:<name>:<version>`, `azureml:<name>:latest`, `azureml:<name>@latest` or `azureml:<name>` (latest). */
export function parseAssetSource(source: string): { name: string; version?: string } | undefined {
  const m = /^azureml:([A-Za-z0-9][A-Za-z0-9_.-]*)(?::([A-Za-z0-9_.-]+)|@latest)?$/.exec(source);
  if (!m) return undefined;
  return { name: m[1], version: m[2] && m[2] !== 'latest' ? m[2] : undefined };
}
