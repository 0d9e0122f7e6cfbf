// Shared by the browser tests: the admin API from node (users, grants,
// real chat calls), Chromium with its console watched, sign-in with an API
// key or a wallet, the CKB devnet's node (or a skip), failure reports and
// the checks' tally. Not a test itself (scripts/e2e.sh runs web/e2e/*.mjs
// only).
import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const base = process.env.TOLLWAY_URL;
export const adminKey = process.env.TOLLWAY_ADMIN_KEY;
if (!base || !adminKey) throw new Error("TOLLWAY_URL and TOLLWAY_ADMIN_KEY are not set (scripts/e2e.sh sets them)");
export const MODEL = "smollm2-135m-instruct";
export const shots = new URL("../../../docs/screenshots/", import.meta.url).pathname;
mkdirSync(shots, { recursive: true });

/** Calls the API from node; the JSON answer (or text), with the status. */
export async function api(method, path, key, body) {
  const headers = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text };
}

/** The JSON of a 2xx answer, else throws with the server's words. */
export async function ok(method, path, key, body) {
  const r = await api(method, path, key, body);
  if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
}

export async function createUser(handle, admin = false) {
  const made = await ok("POST", "/api/admin/users", adminKey, { handle, admin });
  return { id: made.user.id, handle, key: made.api_key };
}

export const grant = (handle, amount, id) => ok("POST", "/api/admin/points/grant", adminKey, { user: handle, amount: String(amount), reason: "e2e grant", id });

/** A real call to the gateway with the embedded model. */
export const chat = (key, text, maxTokens = 6) =>
  api("POST", "/v1/chat/completions", key, { model: MODEL, max_tokens: maxTokens, messages: [{ role: "user", content: text }] });

/** An app's usage report (seed 004's relay shape of Dify's message_end), signed. */
export async function reportUsage(app, message, user, input, output) {
  const body = JSON.stringify({
    event: "message_end",
    data: { conversation_id: `conv-${message}`, message_id: message, user_id: user, model_name: MODEL, input_tokens: input, output_tokens: output, total_tokens: input + output, timestamp: new Date().toISOString() },
    request_id: `req-${message}`,
  });
  const ts = Math.floor(Date.now() / 1000);
  const signature = "sha256=" + createHmac("sha256", app.signing_secret).update(`${ts}.${body}`).digest("hex");
  const r = await fetch(base + "/api/dify/webhook", {
    method: "POST",
    headers: { "content-type": "application/json", "x-tollway-key": app.api_key, "x-tollway-timestamp": String(ts), "x-tollway-signature": signature },
    body,
  });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`webhook: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** `1234567` → `1,234,567`, as the page shows points. */
export const grouped = (text) => String(text).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

export function checks() {
  const failures = [];
  const check = (good, what) => {
    if (!good) failures.push(what);
    console.log(`${good ? "ok  " : "FAIL"} ${what}`);
  };
  return { check, failures };
}

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
}

/** A page whose console errors and failed page scripts are collected. */
export async function watchedPage(browser, viewport, consoleErrors, options = {}) {
  const page = await browser.newPage({ viewport, acceptDownloads: true, ...options });
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  return page;
}

/** Every request `page` makes, as text (method, URL, headers when asked, body): to look for a secret in. */
export function recordRequests(page, { headers = false } = {}) {
  const sent = [];
  page.on("request", (r) => sent.push(`${r.method()} ${r.url()} ${headers ? JSON.stringify(r.headers()) + " " : ""}${r.postData() ?? ""}`));
  return sent;
}

/** Imports `secret` as the browser's wallet, locked with `passphrase`; the form that unlocks it is shown next. */
export async function importWallet(page, secret, passphrase) {
  await page.goto(base);
  await page.getByLabel("Secret key to import").fill(secret);
  await page.getByLabel("Passphrase", { exact: true }).fill(passphrase);
  await page.getByLabel("Passphrase again").fill(passphrase);
  await page.getByRole("button", { name: "Import and lock" }).click();
}

/** Imports `secret` as the wallet and signs in with it (the challenge signed in the page). */
export async function walletSignIn(page, secret, passphrase) {
  await importWallet(page, secret, passphrase);
  await page.getByLabel("Passphrase").fill(passphrase);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByTestId("balance").waitFor();
}

/** Signs in on the login page with an API key, then opens `hash`. */
export async function signIn(page, key, hash) {
  await page.goto(base);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in with the key" }).click();
  await page.getByRole("navigation", { name: "Main" }).waitFor();
  await page.evaluate((h) => { window.location.hash = h; }, hash);
}

/** Console errors other than the browser's own line for an expected HTTP refusal. */
export const realErrors = (errors) => errors.filter((e) => !e.includes("Failed to load resource"));

/** The CKB devnet node scripts/e2e.sh started (`TOLLWAY_CKB_RPC`); without one the script `name` skips (exit 0). */
export function devnetRpc(name) {
  const rpc = process.env.TOLLWAY_CKB_RPC;
  if (!rpc) {
    console.log(`skip: web/e2e/${name} needs a CKB devnet: run scripts/e2e.sh with TOLLWAY_CKB_BIN set to the ckb node binary (scripts/ckb.sh builds it)`);
    process.exit(0);
  }
  return rpc;
}

/** Records an exception as a failure, with what each open page says (its alerts) and a screenshot in `dir`. */
export async function recordFailure(failures, browser, error, dir) {
  failures.push(String(error));
  console.log(`FAIL ${error}`);
  for (const p of browser.contexts().flatMap((c) => c.pages())) {
    const alerts = await p.getByRole("alert").allTextContents().catch(() => []);
    if (alerts.length) console.log(`     the page says: ${alerts.join(" | ")}`);
    await p.screenshot({ path: join(dir, "failure.png"), fullPage: true }).catch(() => {});
    console.log(`     screenshot: ${join(dir, "failure.png")}`);
  }
}

/** Ends a test script: exit status 1 when a check failed. */
export function finish(failures) {
  if (failures.length) {
    console.error(`${failures.length} check(s) failed`);
    process.exit(1);
  }
}
