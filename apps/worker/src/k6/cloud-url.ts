/**
 * k6 prints the cloud run's address in its banner: `https://<stack>.grafana.net/a/k6-app/runs/123`
 * today, `https://app.k6.io/runs/123` on older setups.
 */
const CLOUD_URL = /https:\/\/[A-Za-z0-9.-]+(?:\/a\/k6-app\/runs|\/runs)\/\d+/;

export function findCloudUrl(output: string): string | null {
  return CLOUD_URL.exec(output)?.[0] ?? null;
}
