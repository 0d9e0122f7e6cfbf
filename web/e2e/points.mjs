// The points page in Debian's Chromium against a running Tollway with the
// real model (scripts/e2e.sh): a user with grants and real chat calls
// signs in with an API key and sees the balance the server has, the
// server's own estimate and verdict before a call, the history rows of
// the calls made (filtered, paged by the server's cursor), the CSV export
// with them, and the recent requests; no console errors. Screenshots:
// docs/screenshots/points-*.png.
import { readFileSync } from "node:fs";
import { MODEL, api, chat, checks, createUser, grant, grouped, launch, ok, realErrors, finish, shots, signIn, watchedPage } from "./support/tollway.mjs";

const { check, failures } = checks();
const handle = `pat-${Date.now().toString(36)}`;
const user = await createUser(handle);
await grant(handle, 100000, `${handle}-welcome`);
const calls = [];
for (const text of ["Say hello", "Name a colour", "Count to three"]) {
  const r = await chat(user.key, text);
  if (r.status !== 200) throw new Error(`chat: ${r.status} ${r.text}`);
  calls.push(r.json);
}
const ids = calls.map((c) => c.id);
console.log(`setup: ${handle}, calls ${ids.join(", ")} costing ${calls.map((c) => c.tollway.cost).join(", ")}`);

const browser = await launch();
const consoleErrors = [];
try {
  const page = await watchedPage(browser, { width: 1100, height: 760 }, consoleErrors);
  await signIn(page, user.key, "#/points");

  // Balance: the server's figures.
  const balance = await ok("GET", "/api/user/points/balance", user.key);
  await page.getByTestId("points-balance").filter({ hasText: /\d/ }).waitFor();
  check((await page.getByTestId("points-balance").textContent()) === grouped(balance.balance), `the balance shown is the server's (${balance.balance})`);
  check((await page.getByTestId("points-available").textContent()) === grouped(balance.available), "the available points shown are the server's");
  check((await page.getByTestId("points-arrears").textContent()) === "0", "no arrears");
  const spent = calls.reduce((sum, c) => sum + BigInt(c.tollway.cost), 0n);
  check(BigInt(balance.balance) === 100000n - spent, `the balance is the grant less the three calls' costs (${spent})`);

  // Estimate before a call: the server's estimate and verdict.
  const estimateCard = page.getByRole("region", { name: "Estimate a call" });
  await estimateCard.getByLabel("Model").waitFor();
  await page.waitForFunction(() => document.querySelector("section[aria-label='Estimate a call'] select option") !== null);
  await estimateCard.getByLabel("Input tokens").fill("1200");
  await estimateCard.getByLabel("Output tokens").fill("700");
  await estimateCard.getByRole("button", { name: "Estimate" }).click();
  await page.getByTestId("estimate-cost").waitFor();
  const server = await ok("GET", `/api/user/points/estimate?model=${MODEL}&input_tokens=1200&output_tokens=700`, user.key);
  check((await page.getByTestId("estimate-cost").textContent()) === grouped(server.estimated_cost), `the estimate shown is the server's (${server.estimated_cost})`);
  check(server.estimated_cost === "2600", "1,200 input and 700 output tokens at 1000/2000 per 1k cost 2,600");
  check((await page.getByTestId("can-proceed").textContent()).includes("Can proceed"), "a call within the balance can proceed");
  check((await page.getByTestId("estimate-version").textContent()) === String(server.price_version), "the price version is named");
  await page.screenshot({ path: shots + "points-estimate.png", fullPage: true });

  await estimateCard.getByLabel("Output tokens").fill("90000");
  await estimateCard.getByRole("button", { name: "Estimate" }).click();
  await page.getByTestId("estimate-shortfall").waitFor();
  const refused = await ok("POST", "/api/user/points/check-balance", user.key, { model: MODEL, input_tokens: 1200, output_tokens: 90000 });
  check(!refused.can_proceed && (await page.getByTestId("can-proceed").textContent()).includes("Not enough points"), "a call beyond the balance cannot proceed, in words");
  check((await page.getByTestId("estimate-shortfall").textContent()) === grouped(refused.shortfall), `the top-up needed is the server's shortfall (${refused.shortfall})`);
  await estimateCard.screenshot({ path: shots + "points-cannot-proceed.png" });

  // A refusal in words: the server's code and what to do.
  await estimateCard.getByLabel("Input tokens").fill("200000000");
  await estimateCard.getByRole("button", { name: "Estimate" }).click();
  const alert = estimateCard.getByRole("alert");
  await alert.waitFor();
  const said = await alert.textContent();
  check(said.includes("invalid_tokens") && said.includes("up to 100,000,000"), `too many tokens is refused in words: ${said}`);
  await estimateCard.getByLabel("Input tokens").fill("1200");
  check((await estimateCard.getByRole("alert").count()) === 0, "changing the question clears the refusal");

  // History: the first page is the server's, newest first.
  const history = page.getByTestId("history");
  await history.waitFor();
  const page1 = await ok("GET", "/api/user/points/history?limit=10", user.key);
  const rows = history.locator("tbody tr");
  check((await rows.count()) === page1.items.length && page1.items.length === 10, `page 1 has the server's 10 rows (${await rows.count()})`);
  const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-kind")));
  check(JSON.stringify(kinds) === JSON.stringify(page1.items.map((i) => i.type)), "the rows are the server's kinds in the server's order");
  await page.screenshot({ path: shots + "points-history.png", fullPage: true });

  // Pagination: Older moves to the server's next page, Newer back.
  await page.getByRole("button", { name: "Older →" }).click();
  await page.getByTestId("history-page").filter({ hasText: "Page 2" }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=history] tbody tr").length !== 10);
  const page2 = await ok("GET", `/api/user/points/history?limit=10&cursor=${page1.next_cursor}`, user.key);
  check((await rows.count()) === page2.items.length && page2.items.length === 3, `page 2 has the server's last ${page2.items.length} rows`);
  check((await history.textContent()).includes("e2e grant"), "the oldest row, the grant with its reason, is on page 2");
  check(await page.getByRole("button", { name: "Older →" }).isDisabled(), "no page after the last");
  await page.getByRole("button", { name: "← Newer" }).click();
  await page.getByTestId("history-page").filter({ hasText: "Page 1" }).waitFor();

  // Filter: charges only, one per call, each naming its request.
  const filters = page.getByRole("form", { name: "Filter the history" });
  await filters.getByLabel("charge").check();
  await filters.getByRole("button", { name: "Apply filter" }).click();
  await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=history] tbody tr")].every((tr) => tr.getAttribute("data-kind") === "charge"));
  const chargeText = await history.textContent();
  check((await rows.count()) === 3 && ids.every((id) => chargeText.includes(id)), "filtered to charges: the three calls, each by its request id");
  for (const c of calls) check(chargeText.includes(`-${c.tollway.cost}`), `the charge of ${c.id} is -${c.tollway.cost}, as the gateway answered`);
  await filters.getByLabel("Model").fill("no-such-model");
  await filters.getByRole("button", { name: "Apply filter" }).click();
  await page.getByText("Nothing matches").waitFor();
  check(true, "a filter matching nothing shows the empty state");
  await filters.getByLabel("Model").fill(MODEL);
  await filters.getByRole("button", { name: "Apply filter" }).click();
  await history.waitFor();

  // CSV: the same filter, every row, saved from the page.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
  const csv = readFileSync(await download.path(), "utf8");
  const serverCsv = (await api("GET", `/api/user/points/history?type=charge&model=${MODEL}&format=csv`, user.key)).text;
  const lines = csv.trim().split("\n");
  check(download.suggestedFilename().startsWith(`tollway-history-${handle}`) && download.suggestedFilename().endsWith(".csv"), `the file is named ${download.suggestedFilename()}`);
  check(lines[0].startsWith("seq,id,type") && lines.length === 4, `the CSV has a header and the three charges (${lines.length} lines)`);
  check(ids.every((id) => csv.includes(id)) && csv === serverCsv, "the CSV is the server's export for the filter, with every call");

  // Recent requests: the three calls.
  const requests = page.getByTestId("requests");
  check((await requests.locator("tbody tr").count()) === 3, "the recent requests are the three calls");
  const served = await ok("GET", "/api/user/requests?limit=10", user.key);
  check(served.every((r) => r.cost === calls.find((c) => c.id === r.id)?.tollway.cost), "each recorded request cost what the gateway answered");

  // Phone width.
  const phone = await watchedPage(browser, { width: 390, height: 780 }, consoleErrors);
  await signIn(phone, user.key, "#/points");
  await phone.getByTestId("history").waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `no sideways scrolling at 390 px (${overflow} px over)`);
  await phone.screenshot({ path: shots + "points-phone.png", fullPage: true });

  check(realErrors(consoleErrors).length === 0, `no console errors: ${consoleErrors.join(" | ")}`);
} finally {
  await browser.close();
}
finish(failures);
