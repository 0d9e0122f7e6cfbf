// Calls to the Tollway server: every refusal is the server's stable code
// and message (docs/api.md), a network failure is `unreachable`.

/** A refusal, with the server's code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Sends a JSON request; the JSON answer, or an `ApiError`. */
export async function call<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const text = await callText(method, path, body, token);
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Sends a JSON request; the answer's text, or an `ApiError`. For answers
 * with integers beyond 2^53 (a channel's `chain_id`), which `JSON.parse`
 * would round.
 */
export async function callText(method: string, path: string, body?: unknown, token?: string): Promise<string> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "unreachable", "The Tollway server cannot be reached. Check that it is running, then try again.");
  }
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: reported below.
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(response.status, error?.code ?? "http_" + response.status, error?.message ?? (text || response.statusText));
  }
  if (text && json === undefined) throw new ApiError(response.status, "invalid_response", "The server's answer is not JSON.");
  return text;
}
