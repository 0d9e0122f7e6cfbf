// The admin console in Debian's Chromium against a running Tollway with
// the real model (scripts/e2e.sh): an admin creates a user, grants it
// points, disables it (its call is refused) and enables it; issues a key
// with a spending cap the gateway then enforces; changes a price (the new
// version in the history, the calculator's answer changed as the server's
// estimate did), withdraws one; sees every user's channels and runs a
// claim; reads the CKB task log's state; sees the consumption charts drawn
// from the real calls; runs the ledger audit. A user sees no admin page.
// No console errors. Screenshots: docs/screenshots/admin-*.png.
import { createECDH } from "node:crypto";
import { MODEL, adminKey, api, chat, checks, createUser, grant, grouped, launch, ok, realErrors, finish, reportUsage, shots, signIn, watchedPage } from "./support/tollway.mjs";

const { check, failures } = checks();
const stamp = Date.now().toString(36);
const ann = await createUser(`ann-${stamp}`);
await grant(ann.handle, 50000, `${ann.handle}-welcome`);
const calls = [];
for (const text of ["Say hello", "Name a fruit"]) {
  const r = await chat(ann.key, text);
  if (r.status !== 200) throw new Error(`chat: ${r.status} ${r.text}`);
  calls.push(r.json);
}
const app = await ok("POST", "/api/admin/apps", adminKey, { name: `dify-${stamp}` });
const report = await reportUsage(app, `msg-${stamp}`, ann.handle, 100, 50);
const reported = BigInt(report.data.points_deducted);
const ecdh = createECDH("secp256k1");
ecdh.setPrivateKey(Buffer.alloc(32, 7));
const channel = await ok("POST", "/api/channels", ann.key, { deposit: "1234", key: "0x" + ecdh.getPublicKey("hex", "compressed") });
console.log(`setup: ${ann.handle}, calls ${calls.map((c) => c.tollway.cost).join(", ")} points, an app's report ${reported} points, channel ${channel.id}`);

const browser = await launch();
const consoleErrors = [];
try {
  const page = await watchedPage(browser, { width: 1100, height: 760 }, consoleErrors);
  await signIn(page, adminKey, "#/admin/users");
  const tab = (name) => page.getByRole("navigation", { name: "Admin sections" }).getByRole("link", { name });

  // Users: create, grant, disable (refused at the gateway), enable.
  const users = page.getByTestId("users");
  await users.waitFor();
  check((await users.textContent()).includes(ann.handle), "the users list has the user made by the API");
  const bobHandle = `bob-${stamp}`;
  await page.getByRole("region", { name: "New user" }).getByLabel("Handle").fill(bobHandle);
  await page.getByRole("button", { name: "Create user" }).click();
  const bobKey = (await page.getByTestId("new-user-key").textContent()).trim();
  const me = await ok("GET", "/api/user/me", bobKey);
  check(me.handle === bobHandle && !me.is_admin, "the key shown once signs in as the new user");
  await users.locator(`tr[data-handle="${bobHandle}"]`).waitFor();
  await users.locator(`tr[data-handle="${bobHandle}"]`).getByRole("button", { name: "Points…" }).click();
  const pointsForm = page.getByRole("region", { name: "Grant or adjust points" });
  const picked = await page.waitForFunction((h) => document.querySelector("section[aria-label='Grant or adjust points'] input")?.value === h, bobHandle, { timeout: 5000 }).then(() => true, () => false);
  check(picked, "Points… picks the user");
  await pointsForm.getByLabel("Points").fill("5000");
  await pointsForm.getByLabel("Reason").fill("welcome credit");
  await pointsForm.getByRole("button", { name: "Grant" }).click();
  await page.getByTestId("points-changed").waitFor();
  const bobBalance = await ok("GET", "/api/user/points/balance", bobKey);
  check(bobBalance.balance === "5000" && (await page.getByTestId("points-changed").textContent()).includes("5,000"), "the grant is on the server and shown (5,000)");
  await pointsForm.getByLabel("Change").selectOption("adjust");
  await pointsForm.getByLabel("Points").fill("-99999");
  await pointsForm.getByLabel("Reason").fill("too much");
  await pointsForm.getByRole("button", { name: "Adjust" }).click();
  const refusal = await pointsForm.getByRole("alert").textContent();
  check(refusal.includes("insufficient_points"), `an adjustment below zero is refused with the server's code: ${refusal}`);

  await users.locator(`tr[data-handle="${bobHandle}"]`).getByRole("button", { name: "Disable" }).click();
  await users.locator(`tr[data-handle="${bobHandle}"]`).getByText("disabled").waitFor();
  const refused = await chat(bobKey, "Hello?");
  check(refused.status === 403 && refused.json?.error?.code === "user_disabled", `a disabled user's call is refused (${refused.status} ${refused.json?.error?.code})`);
  await page.screenshot({ path: shots + "admin-users.png", fullPage: true });
  await users.locator(`tr[data-handle="${bobHandle}"]`).getByRole("button", { name: "Enable" }).click();
  await users.locator(`tr[data-handle="${bobHandle}"]`).getByText("enabled").waitFor();
  check((await api("GET", "/api/user/points/balance", bobKey)).status === 200, "enabled again, the user's key works");

  // Keys: a new key with a spending cap the gateway enforces.
  await tab("Keys & limits").click();
  const issue = page.getByRole("region", { name: "Issue a key" });
  await issue.getByLabel("User").selectOption({ label: `${bobHandle} (#${me.user_id})` });
  await issue.getByLabel("Label").fill("capped");
  await issue.getByRole("button", { name: "Issue key" }).click();
  const capped = (await page.getByTestId("new-key").locator("code").textContent()).trim();
  await page.getByTestId("key-view").waitFor();
  await page.getByLabel("Spending cap (points)").fill("10");
  await page.getByLabel("Requests per minute").fill("30");
  await page.getByRole("button", { name: "Save limits" }).click();
  await page.getByTestId("key-spend").waitFor();
  check((await page.getByTestId("key-spend").textContent()).includes("10 left"), "the cap is saved and shown with what is left");
  const capHit = await chat(capped, "Tell me a long story");
  check(capHit.status === 402 && capHit.json?.error?.code === "spend_cap_reached", `a call beyond the key's cap is refused (${capHit.status} ${capHit.json?.error?.code})`);
  await page.screenshot({ path: shots + "admin-keys.png", fullPage: true });

  // Prices: the calculator before and after a new version.
  await tab("Prices").click();
  await page.getByTestId("prices").waitFor();
  const estimate = () => ok("GET", `/api/user/points/estimate?model=${MODEL}&input_tokens=1000&output_tokens=1000`, adminKey);
  const was = await estimate();
  const calc = page.getByRole("region", { name: "Points calculator" });
  await calc.getByLabel("Input tokens").fill("1000");
  await calc.getByLabel("Output tokens").fill("1000");
  await calc.getByRole("button", { name: "Calculate" }).click();
  const before = await page.getByTestId("calc-cost").textContent();
  check(before === grouped(was.estimated_cost), `the calculator prices 1,000 + 1,000 tokens as the server does: ${before}`);
  const form = page.getByRole("region", { name: "Set a price" });
  const setPrice = async (input, output, note) => {
    await form.getByLabel("Model").fill(MODEL);
    await form.getByLabel("Input per 1k").fill(input);
    await form.getByLabel("Output per 1k").fill(output);
    await form.getByLabel("Note").fill(note);
    await form.getByRole("button", { name: "Save new version" }).click();
    await page.getByTestId("price-saved").filter({ hasText: `${input} / ${output}` }).waitFor();
  };
  await setPrice("1500", "2500.5", "e2e raise");
  const history = page.getByTestId("price-history");
  await history.getByText("e2e raise").waitFor();
  const versions = (await history.locator("tbody tr td:first-child").allTextContents()).map(Number);
  check(versions[0] === was.price_version + 1 && versions.at(-1) === 1 && versions.length === was.price_version + 1, `the history shows the new version over the older ones: ${versions}`);
  await calc.getByRole("button", { name: "Calculate" }).click();
  await page.getByTestId("calc-cost").waitFor();
  const now = await estimate();
  const after = await page.getByTestId("calc-cost").textContent();
  check(after === grouped(now.estimated_cost) && now.estimated_cost === "4001" && now.price_version === was.price_version + 1, `the calculator's answer changed with the price, as the server's estimate: ${after}`);
  await page.screenshot({ path: shots + "admin-prices.png", fullPage: true });
  // Back to the run's prices (the other browser tests price by them).
  await setPrice(was.input_per_1k, was.output_per_1k, "e2e: back to the run's price");
  await form.getByLabel("Model").fill("e2e-test-model");
  await form.getByLabel("Input per 1k").fill("1");
  await form.getByLabel("Output per 1k").fill("1");
  await form.getByRole("button", { name: "Save new version" }).click();
  await page.getByTestId("price-saved").filter({ hasText: "e2e-test-model" }).waitFor();
  const row = page.getByTestId("prices").locator('tr[data-model="e2e-test-model"]');
  await row.getByRole("button", { name: "Withdraw" }).click();
  await row.getByRole("button", { name: "Confirm withdraw" }).click();
  await row.locator("td.muted", { hasText: "withdrawn" }).waitFor();
  const withdrawn = await api("GET", "/api/user/points/estimate?model=e2e-test-model&input_tokens=1&output_tokens=1", adminKey);
  check(withdrawn.status >= 400, `a withdrawn model is no longer priced (${withdrawn.status} ${withdrawn.json?.error?.code})`);

  // Channels and a claim.
  await tab("Channels").click();
  const channels = page.getByTestId("channels");
  await channels.waitFor();
  const channelText = await channels.textContent();
  check(channelText.includes(ann.handle) && channelText.includes("1,234"), "every user's channel is listed with its owner and collateral");
  await page.getByRole("button", { name: "Run a claim now" }).click();
  const claimed = await page.getByTestId("claim-result").textContent();
  const again = await ok("POST", "/api/admin/channels/claims", adminKey, {});
  check(/Nothing was owed|Claimed/.test(claimed) && again.sub_channels === 0, `a claim ran and its result is shown (${claimed}); nothing is left to claim twice`);
  await page.screenshot({ path: shots + "admin-channels.png", fullPage: true });

  // CKB jobs: with the rail on (scripts/e2e.sh with a devnet), the task
  // log is the server's; with it off, said so, with how to turn it on.
  await tab("CKB jobs").click();
  if (process.env.TOLLWAY_CKB_RPC) {
    await page.getByTestId("tasks").locator("tbody tr").first().waitFor({ timeout: 30_000 });
    const shown = await page.getByTestId("tasks").locator("tbody tr").count();
    const runs = await ok("GET", "/api/admin/ckb/tasks", adminKey);
    const listed = runs.runs;
    check(shown > 0 && listed.length >= shown && listed.length > 0, `with the CKB rail on, the task log lists the jobs' runs (${shown} shown, ${listed.length} on the server)`);
  } else {
    const off = await page.getByTestId("ckb-off").textContent();
    check(off.includes("ckb.rpc_url"), "with the CKB rail off, the task log says so and how to turn it on");
  }
  await page.screenshot({ path: shots + "admin-jobs.png" });

  // Consumption: the charts drawn from the real calls.
  await tab("Consumption").click();
  await page.getByTestId("chart-model").waitFor();
  const hourly = await ok("GET", "/api/admin/consumption/hourly?hours=24", adminKey);
  const charged = hourly.reduce((sum, h) => sum + BigInt(h.charged), 0n);
  const modelCharged = hourly.filter((h) => h.model === MODEL).reduce((sum, h) => sum + BigInt(h.charged), 0n);
  const annSpent = calls.reduce((sum, c) => sum + BigInt(c.tollway.cost), 0n) + reported;
  check((await page.getByTestId("chart-model").getAttribute("data-total")) === charged.toString() && charged >= annSpent, `the per-model chart totals the server's hourly charges (${charged})`);
  check((await page.getByTestId("chart-model").locator(`li[data-key="${MODEL}"]`).getAttribute("data-total")) === modelCharged.toString(), `the model's legend shows its points (${modelCharged})`);
  check((await page.getByTestId("chart-user").locator(`li[data-key="${ann.handle}"]`).getAttribute("data-total")) === annSpent.toString(), `the per-user chart shows the user's points (${annSpent})`);
  const bars = await page.getByTestId("chart-model").locator("rect[data-key]").evaluateAll((rs) => rs.reduce((sum, r) => sum + BigInt(r.getAttribute("data-value")), 0n).toString());
  check(bars === charged.toString(), "the bars drawn add up to the same total");
  const served = await ok("GET", "/api/admin/requests?limit=20", adminKey);
  const shownRows = await page.getByTestId("requests").locator("tbody tr").count();
  check(shownRows === served.length && (await page.getByTestId("requests").textContent()).includes(ann.handle), `the recent requests are the server's (${shownRows}), with the user named`);
  const events = await page.getByTestId("usage-events").textContent();
  check(events.includes(ann.handle) && events.includes(grouped(reported)), `the app's usage report is listed with the user and its charge (${reported})`);
  await page.screenshot({ path: shots + "admin-monitor.png", fullPage: true });
  await page.getByLabel("Show").selectOption("tokens");
  const tokens = hourly.reduce((sum, h) => sum + h.input_tokens + h.output_tokens, 0);
  await page.waitForFunction((t) => document.querySelector("[data-testid=chart-model]")?.getAttribute("data-total") === String(t), tokens);
  check(true, `in tokens, the chart totals the calls' usage (${tokens})`);

  // The audit and its result.
  await tab("Ledger audit").click();
  await page.getByRole("button", { name: "Run the audit" }).click();
  const result = page.getByTestId("audit-result");
  await result.waitFor();
  const audit = await ok("GET", "/api/admin/ledger/audit", adminKey);
  const said = await result.textContent();
  check(audit.ok && said.includes("consistent") && said.includes(`${audit.accounts} accounts`), `the audit's result is shown: ${said}`);
  await page.screenshot({ path: shots + "admin-audit.png", fullPage: true });

  // Phone width: the monitor.
  const phone = await watchedPage(browser, { width: 390, height: 780 }, consoleErrors);
  await signIn(phone, adminKey, "#/admin/monitor");
  await phone.getByTestId("chart-user").waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `no sideways scrolling at 390 px (${overflow} px over)`);
  await phone.screenshot({ path: shots + "admin-phone.png", fullPage: true });

  // Users page by page (50 a page, by id): enough users for a second page.
  const everyone = (await ok("GET", "/api/admin/users?limit=500", adminKey)).length;
  for (let n = everyone; n <= 50; n += 1) await createUser(`pager-${stamp}-${n}`);
  const total = (await ok("GET", "/api/admin/users?limit=500", adminKey)).length;
  await page.evaluate(() => { window.location.hash = "#/admin/prices"; });
  await page.evaluate(() => { window.location.hash = "#/admin/users"; });
  await page.getByTestId("users-page").filter({ hasText: "Page 1" }).waitFor();
  const firstPage = await page.getByTestId("users").locator("tbody tr").count();
  await page.getByRole("button", { name: "Next →" }).click();
  await page.getByTestId("users-page").filter({ hasText: "Page 2" }).waitFor();
  await page.getByTestId("users").locator("tbody tr").first().waitFor();
  const secondPage = await page.getByTestId("users").locator("tbody tr").count();
  check(firstPage === 50 && secondPage === Math.min(50, total - 50), `the users list pages by 50: ${firstPage} on page 1, ${secondPage} on page 2, of the server's ${total}`);
  await page.getByRole("button", { name: "← Previous" }).click();
  await page.getByTestId("users-page").filter({ hasText: "Page 1" }).waitFor();

  // A user has no admin console.
  const user = await watchedPage(browser, { width: 1100, height: 760 }, consoleErrors);
  await signIn(user, ann.key, "#/admin/users");
  await user.getByRole("link", { name: "Points" }).waitFor();
  check((await user.getByRole("link", { name: "Admin" }).count()) === 0 && (await user.getByTestId("users").count()) === 0, "a user sees no admin link and no admin page");
  check((await api("GET", "/api/admin/users", ann.key)).status === 403, "and the server refuses the user (403)");

  check(realErrors(consoleErrors).length === 0, `no console errors: ${consoleErrors.join(" | ")}`);
} finally {
  await browser.close();
}
finish(failures);
