// Downloading a non-JSON answer (the history's CSV) with the session's
// key: fetched with Authorization (a plain link could not send it), then
// saved from a Blob. A refusal is the server's ApiError, as for JSON.
import { ApiError } from "./api";

/** Fetches `path` as text with the key; refusals as `ApiError`. */
export async function fetchText(path: string, token: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  } catch {
    throw new ApiError(0, "unreachable", "The Tollway server cannot be reached. Check that it is running, then try again.");
  }
  const text = await response.text();
  if (!response.ok) {
    let error: { code?: string; message?: string } | undefined;
    try {
      error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    } catch {
      // Not JSON: the status says it.
    }
    throw new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? (text || response.statusText));
  }
  return text;
}

/** Offers `text` to the person as a file named `name`. */
export function saveText(text: string, name: string, type = "text/csv"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}
