/**
 * k6 names the cloud run in its banner, `output: cloud (<url>)`:
 * `https://<stack>.grafana.net/a/k6-app/runs/123` with Grafana Cloud k6,
 * `https://app.k6.io/runs/123` on legacy k6 Cloud accounts. Only that line counts, so a
 * script that prints a URL of the same shape cannot pose as the cloud run.
 */
const BANNER_CLOUD_URL =
  /^\s*output:.*\bcloud \((https:\/\/[A-Za-z0-9.-]+(?:\/a\/k6-app)?\/runs\/\d+)\)/m;

export function findCloudUrl(output: string): string | null {
  return BANNER_CLOUD_URL.exec(output)?.[1] ?? null;
}
