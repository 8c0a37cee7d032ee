export interface WebhookResponse {
  status: number;
  text: string;
  headers: Headers;
}

export interface CanaryCall {
  name?: string;
  namespace?: string;
  phase?: string;
  checksum?: string;
  metadata: Record<string, string>;
}

export function payloadOf(call: CanaryCall) {
  return {
    name: call.name ?? "podinfo",
    namespace: call.namespace ?? "test",
    phase: call.phase ?? "Progressing",
    checksum: call.checksum ?? "rev1",
    metadata: call.metadata,
  };
}

/** POSTs like Flagger does: JSON body, no special headers. */
export async function postWebhook(
  baseUrl: string,
  body: unknown,
  init: RequestInit = {},
): Promise<WebhookResponse> {
  const response = await fetch(`${baseUrl}/launch-test`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(init.headers ?? {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: init.signal ?? AbortSignal.timeout(60_000),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}
