// The CKB hub's page on a real devnet, in Debian's Chromium driven by
// playwright-core: devnet test account 3's key imported and signed in,
// its node named, 5 CKB paid to another test account's address through
// the hub (prepared by the server, checked and signed in the page, sent),
// the payment watched until `complete`, then the wallet's payment list
// and the receiver's balance at the hub checked against the server; the
// page at 390 px has no sideways scroll; no secret key in any request the
// page made, no console errors. Screenshots docs/screenshots/hub-*.png.
// Needs the devnet and the hub of scripts/e2e.sh (TOLLWAY_CKB_BIN): skips
// without them.
import { base, checks, devnetRpc, finish, launch, realErrors, recordFailure, recordRequests, shots, walletSignIn, watchedPage } from "./support/tollway.mjs";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const rpc = devnetRpc("hub.mjs");
const hubInfo = await fetch(`${base}/api/hub`);
if (hubInfo.status !== 200) {
  console.log(`skip: web/e2e/hub.mjs: the server does not run the hub (GET /api/hub: ${hubInfo.status})`);
  process.exit(0);
}
const info = await hubInfo.json();

// Devnet test accounts 3 (the payer; ckb.mjs's faucet, so never the hub,
// which scripts/e2e.sh runs with account 1's key: its pool splits the
// hub's cells) and 0 (the receiver), from the CLI.
const tollway = new URL("../../target/debug/tollway", import.meta.url).pathname;
const accounts = execFileSync(tollway, ["devnet", "accounts"], { encoding: "utf8" });
const account = (n) => {
  const m = new RegExp(`^account ${n}: lock args (0x[0-9a-f]{40})\\s+secret key (0x[0-9a-f]{64})`, "m").exec(accounts);
  if (!m) throw new Error(`no devnet account ${n} in: ${accounts}`);
  return { args: m[1], secret: m[2] };
};
const payer = account(3);
const receiverArgs = account(0).args;
const receiver = (await (await fetch(`${base}/api/hub/balance/${receiverArgs}`)).json()).address;
const passphrase = "the hub on the devnet";
const work = mkdtempSync(join(tmpdir(), "tollway-hub-e2e-"));
const CKB = 100_000_000n;

const browser = await launch();
const { check, failures } = checks();
try {
  const consoleErrors = [];
  const page = await watchedPage(browser, { width: 1100, height: 760 }, consoleErrors);
  const sent = recordRequests(page, { headers: true });

  await walletSignIn(page, payer.secret, passphrase);
  await page.getByRole("link", { name: "Hub" }).click();
  const wallet = page.getByRole("region", { name: "Your wallet at the hub" });
  await wallet.waitFor();
  check((await page.getByTestId("hub-lock-args").textContent()).trim() === payer.args, "the page shows test account 3's lock args");
  check((await page.getByTestId("hub-address").textContent()).trim() === info.hub_address, "the page shows the hub's address");
  await wallet.getByLabel("Your CKB node").fill(rpc);
  await wallet.getByRole("button", { name: "Use this node" }).click();
  await page.getByTestId("hub-wallet-held").filter({ hasText: /CKB$/ }).waitFor({ timeout: 30_000 });
  check(true, `the wallet's cells are read from the devnet node: ${await page.getByTestId("hub-wallet-held").textContent()}`);

  // Pay 5 CKB to test account 0's address.
  const form = page.getByRole("region", { name: "Pay through the hub" });
  await form.getByLabel("Pay to").fill(receiver);
  await form.getByLabel("Amount (CKB)").fill("5");
  await form.getByRole("button", { name: "Prepare the payment" }).click();
  const review = page.getByTestId("hub-review");
  await review.waitFor({ timeout: 30_000 });
  check((await page.getByTestId("hub-review-amount").textContent()) === "5 CKB", "the review shows 5 CKB");
  check(/CKB \(limit 0\.001 CKB\)$/.test(await page.getByTestId("hub-review-fee").textContent()), `the review shows the network fee against the limit: ${await page.getByTestId("hub-review-fee").textContent()}`);
  const prepare = sent.find((r) => r.startsWith(`POST ${base}/api/payment/prepare`));
  check(prepare !== undefined && prepare.includes('"authorization":"Bearer ') && prepare.includes(`"sender":"${payer.args}"`) && prepare.includes('"amount":"500000000"'), "the prepare carried the session's key, the wallet and 500000000 shannons");
  check(sent.some((r) => r.startsWith(`POST ${rpc}`) && r.includes("get_live_cell")), "the page read the payment's cells from its own node before signing");
  await review.scrollIntoViewIfNeeded();
  await page.screenshot({ path: shots + "hub-review.png" });

  await review.getByRole("button", { name: "Sign and pay" }).click();
  const status = page.getByTestId("hub-status");
  await status.waitFor({ timeout: 30_000 });
  const transfer = sent.find((r) => r.startsWith(`POST ${base}/api/payment/transfer`));
  check(transfer !== undefined && /"tx":"0x[0-9a-f]+"/.test(transfer), "the signed transaction was posted to /api/payment/transfer");
  await page.locator('[data-testid="hub-status"][data-state="complete"]').waitFor({ timeout: 90_000 });
  check(true, "the payment turned complete on the page");
  const id = /Payment (\d+)/.exec(await status.textContent())[1];
  const payment = await (await fetch(`${base}/api/payment/${id}`)).json();
  check(payment.state === "complete" && payment.is_complete === true && payment.amount === "500000000" && payment.sender_lock_args === payer.args && payment.receiver_lock_args === receiverArgs,
    `the server has payment ${id}: complete, 5 CKB from account 3 to account 0`);
  const committed = await (await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "get_transaction", params: [payment.tx_hash] }) })).json();
  check(committed.result?.tx_status?.status === "committed", "the payment's transaction is committed on the devnet");
  const outputs = committed.result?.transaction?.outputs ?? [];
  check(outputs.length === 2 && outputs[0].lock.args === payer.args && outputs[1].lock.args === info.hub_lock_args, "its outputs: the wallet's change, then the hub's cell");
  await page.screenshot({ path: shots + "hub-complete.png", fullPage: true });

  // The wallet's list of payments, and the receiver's balance at the hub.
  const list = page.getByTestId("hub-sent");
  await list.locator(`li[data-state="complete"][data-amount="500000000"]`).first().waitFor({ timeout: 30_000 });
  check((await list.locator("li").first().textContent()).includes("5 CKB"), "the payment is first in the wallet's sent list, complete, 5 CKB");
  const receiverShare = (payment.splits ?? []).filter((s) => s.role === "receiver").reduce((sum, s) => sum + BigInt(s.amount), 0n);
  const splitSum = (payment.splits ?? []).reduce((sum, s) => sum + BigInt(s.amount), 0n);
  check(splitSum === 5n * CKB && receiverShare > 0n && receiverShare === 5n * CKB - (5n * CKB * BigInt(info.fee_bps)) / 10_000n,
    `the splits add up to 5 CKB; the receiver's share is 5 CKB less the hub's ${info.fee_bps} bps: ${receiverShare}`);
  const lookup = page.getByRole("region", { name: "A balance at the hub" });
  await lookup.getByLabel("CKB address or lock args").fill(receiver);
  await lookup.getByRole("button", { name: "Show" }).click();
  const shown = page.getByTestId("hub-lookup-balance");
  await shown.waitFor({ timeout: 15_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid="hub-lookup-balance"]')?.getAttribute("data-unpaid"), null, { timeout: 15_000 });
  const unpaid = BigInt(await shown.getAttribute("data-unpaid"));
  const server = await (await fetch(`${base}/api/hub/balance/${encodeURIComponent(receiver)}`)).json();
  check(unpaid === receiverShare && server.unpaid === receiverShare.toString(), `the receiver's balance at the hub is its share, on the page and on the server: ${unpaid}`);
  await shown.scrollIntoViewIfNeeded();
  await page.screenshot({ path: shots + "hub-balance.png" });

  // A refusal in words with its code: an address of nobody's lock (the
  // browser logs the 400 as a failed resource; nothing else may be logged).
  const errorsBefore = consoleErrors.length;
  await form.getByLabel("Pay to").fill("ckt1notanaddress");
  await form.getByRole("button", { name: "Prepare the payment" }).click();
  const error = page.getByTestId("hub-error");
  await error.waitFor({ timeout: 15_000 });
  check((await error.textContent()).includes("invalid_address"), `a bad address is refused in words, with the server's code: ${await error.textContent()}`);

  await page.setViewportSize({ width: 390, height: 780 });
  await page.evaluate(() => window.scrollTo(0, 0));
  const sideways = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(sideways <= 0, `no sideways scroll at 390 px (${sideways} px)`);
  await page.screenshot({ path: shots + "hub-phone.png", fullPage: true });

  const bare = payer.secret.slice(2);
  check(sent.length > 0 && sent.every((r) => !r.toLowerCase().includes(bare)), `the secret key is in none of the ${sent.length} requests the page made`);
  check(errorsBefore === 0 && realErrors(consoleErrors).length === 0 && consoleErrors.length <= 1, `no console errors but the refused prepare's 400: ${consoleErrors.join(" | ")}`);
} catch (e) {
  await recordFailure(failures, browser, e, work);
} finally {
  await browser.close();
}
finish(failures);
