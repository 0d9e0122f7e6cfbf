// A CKB Spilman channel from the browser on a real devnet, in Debian's
// Chromium driven by playwright-core: a wallet imported and signed in,
// funded on chain from a devnet test account, a channel offered, checked
// and funded with the funding signed in the page, confirmed, its refund
// shown and downloaded (and refused by the node as immature, not as
// badly signed), a receipt paid with its commitment, the channel settled
// on chain with the exact split; no secret key in any request the page
// made (to the server or the node), no console errors. Screenshots
// docs/screenshots/ckb-*.png. Needs the devnet of scripts/e2e.sh
// (TOLLWAY_CKB_BIN): skips without it.
import { base, checks, devnetRpc, finish, launch, recordFailure, recordRequests, shots, walletSignIn, watchedPage } from "./support/tollway.mjs";
import { build } from "esbuild";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const rpc = devnetRpc("ckb.mjs");

// The faucet, built from the app's own CKB code.
const work = mkdtempSync(join(tmpdir(), "tollway-ckb-e2e-"));
await build({ entryPoints: [new URL("./support/ckbFaucet.ts", import.meta.url).pathname], bundle: true, format: "esm", platform: "node", outfile: join(work, "faucet.mjs"), logLevel: "warning" });
const faucet = await import(join(work, "faucet.mjs"));

const CKB = 100_000_000n;
const secret = "0x" + "6c".repeat(32);
const passphrase = "ckb on the devnet";
const node = async (method, params) => {
  const r = await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  return r.json();
};

const browser = await launch();
const { check, failures } = checks();
try {
  const consoleErrors = [];
  const page = await watchedPage(browser, { width: 1100, height: 760 }, consoleErrors, { acceptDownloads: true });
  const sent = recordRequests(page, { headers: true });

  await walletSignIn(page, secret, passphrase);

  await page.getByRole("link", { name: "Channels" }).click();
  const section = page.getByRole("region", { name: "Open a CKB channel" });
  await section.waitFor();
  const lockArgs = (await page.getByTestId("ckb-lock-args").textContent()).trim();
  check(/^0x[0-9a-f]{40}$/.test(lockArgs), "the page shows the wallet's lock args");
  const funded = await faucet.fund(rpc, 3, Uint8Array.from(Buffer.from(lockArgs.slice(2), "hex")), 2_000n * CKB);
  console.log(`     the wallet was sent 2,000 CKB from devnet account 3 (${funded})`);

  await section.getByLabel("Your CKB node").fill(rpc);
  await section.getByRole("button", { name: "Use this node" }).click();
  await page.getByTestId("ckb-wallet-balance").filter({ hasText: "2,000 CKB" }).waitFor({ timeout: 30_000 });
  check(true, "the wallet's 2,000 CKB are read from the devnet node");

  const info = await (await fetch(`${base}/api/ckb`)).json();
  const minutes = Math.max(10, Math.ceil(info.min_duration_secs / 60));
  await section.getByLabel("Deposit (CKB)").fill("500");
  await section.getByLabel("Duration (minutes)").fill(String(minutes));
  await section.getByRole("button", { name: "Get an offer" }).click();
  const offer = page.getByTestId("ckb-offer");
  await offer.waitFor({ timeout: 30_000 });
  check((await page.getByTestId("ckb-offer-max").textContent()).startsWith("438.99999"), "the offer shows what the channel can pay (500 − 61 CKB − the closing fee)");
  check((await offer.textContent()).includes("Checked before signing"), "the offer says what was checked before signing");
  await offer.scrollIntoViewIfNeeded();
  await page.screenshot({ path: shots + "ckb-offer.png" });
  const beforeSign = sent.length;
  await offer.getByRole("button", { name: "Sign the funding and open" }).click();

  const state = page.getByTestId("ckb-detail-state");
  await state.filter({ hasText: /^active$/ }).waitFor({ timeout: 90_000 });
  check(true, "the channel funded from the browser is active on the devnet");
  check(sent.slice(beforeSign).some((r) => r.includes("/funding")) && sent.slice(beforeSign).some((r) => r.includes("/confirm")), "the page sent the funding to the seller to check, then the signed funding");
  await page.getByTestId("ckb-confirmations").filter({ hasText: /confirmation/ }).waitFor({ timeout: 30_000 });
  check(/^\d+ confirmations?$/.test((await page.getByTestId("ckb-confirmations").textContent()).trim()), "the funding's confirmations are shown");

  const refund = page.getByTestId("ckb-refund");
  await refund.waitFor({ timeout: 30_000 });
  check((await refund.textContent()).includes("signature checked"), "the seller's refund is shown with its signature checked");
  await page.getByRole("region", { name: "CKB channel", exact: true }).evaluate((e) => e.scrollIntoView({ block: "start" }));
  await page.screenshot({ path: shots + "ckb-active.png" });
  const [download] = await Promise.all([page.waitForEvent("download"), refund.getByRole("button", { name: "Download the refund (JSON)" }).click()]);
  const file = JSON.parse(readFileSync(await download.path(), "utf8"));
  check(download.suggestedFilename().endsWith(".json") && file.buyer_signed === true && /^0x[0-9a-f]{64}$/.test(file.refund_tx_hash), "the refund downloads as JSON, signed by both keys");
  check(BigInt(file.transaction.inputs[0].since) === BigInt(file.expiry_block), "the refund's input is timelocked to the expiry block");
  const early = await node("send_transaction", [file.transaction, "passthrough"]);
  check(early.error && /Immature/i.test(JSON.stringify(early.error)), `the node refuses the refund before the expiry as immature: ${JSON.stringify(early.error ?? early.result).slice(0, 160)}`);

  // The scripts accept it (both signatures valid): only the timelock holds it back.
  const cycles = await node("estimate_cycles", [file.transaction]);
  check(cycles.result?.cycles !== undefined, `the refund's 2-of-2 lock accepts its two signatures (estimate_cycles: ${JSON.stringify(cycles.result ?? cycles.error).slice(0, 120)})`);
  const forged = structuredClone(file.transaction);
  forged.witnesses[0] = forged.witnesses[0].slice(0, -2) + (forged.witnesses[0].endsWith("00") ? "01" : "00");
  check((await node("estimate_cycles", [forged])).error !== undefined, "a refund with a damaged signature is refused by the lock");

  // A receipt paid from the page: the SubRAV and its commitment, signed here.
  const pay = page.getByRole("region", { name: "CKB channel", exact: true });
  await pay.getByLabel("Amount (CKB)").fill("1.5");
  await pay.getByRole("button", { name: "Sign and pay" }).click();
  await pay.getByRole("status").filter({ hasText: "accepted" }).waitFor({ timeout: 30_000 });
  check((await pay.getByRole("status").textContent()).includes("1.5 CKB in total"), "the receipt with its commitment is accepted for 1.5 CKB");
  const receiptPost = sent.find((r) => r.includes("/receipts"));
  check(receiptPost !== undefined && /"commitment":"0x[0-9a-f]+"/.test(receiptPost), "the receipt was posted with its commitment");
  await page.getByTestId("ckb-paid").filter({ hasText: "1.5 CKB" }).waitFor({ timeout: 30_000 });
  check((await page.getByTestId("ckb-receipts").textContent()).includes("✓"), "the receipt is listed as accepted");
  await page.screenshot({ path: shots + "ckb-paid.png", fullPage: true });

  // A chat answer paid from the CKB channel, receipt by receipt, each with
  // its commitment signed in the page (auto-pay, prices pinned in shannons).
  const channelId = await page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.startsWith("tollway.ckb."));
    return Object.keys(JSON.parse(localStorage.getItem(key)).channels)[0];
  });
  const token = JSON.parse(await page.evaluate(() => sessionStorage.getItem("tollway.session"))).api_key;
  const owedOf = async () => BigInt((await (await fetch(`${base}/api/channels/${channelId}`, { headers: { authorization: `Bearer ${token}` } })).json()).owed);
  const shannonsOf = (text) => {
    const m = /([\d,]+)(?:\.(\d+))? CKB/.exec(text);
    return BigInt(m[1].replace(/,/g, "")) * CKB + BigInt((m[2] ?? "").padEnd(8, "0"));
  };
  const owedBefore = await owedOf();
  const receiptsBefore = sent.filter((r) => r.includes("/receipts")).length;
  await page.getByRole("link", { name: "Chat" }).click();
  await page.getByLabel("Pay from").selectOption(channelId);
  await page.getByLabel("Max tokens").fill("24");
  await page.getByLabel("Your message").fill("Say hello.");
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByTestId("answer-cost").waitFor({ timeout: 120_000 });
  await page.getByRole("button", { name: "Send" }).waitFor({ timeout: 60_000 });
  const chatRows = page.getByTestId("receipts").locator("tbody tr");
  const chatReceipts = await chatRows.count();
  check(chatReceipts > 1 && (await chatRows.filter({ hasText: "accepted" }).count()) === chatReceipts, `a chat answer paid from the CKB channel: ${chatReceipts} receipts shown, all accepted`);
  const chatPosts = sent.filter((r) => r.includes("/receipts")).slice(receiptsBefore);
  check(chatPosts.length >= chatReceipts && chatPosts.every((r) => /"commitment":"0x[0-9a-f]+"/.test(r)), `each of the ${chatPosts.length} receipts was posted with its commitment`);
  const owedAfter = await owedOf();
  const answerCost = shannonsOf(await page.getByTestId("answer-cost").textContent());
  check(answerCost > 0n && owedAfter - owedBefore === answerCost, `the answer cost ${answerCost} shannons, and the seller's accepted total rose by exactly that`);
  check(shannonsOf(await page.getByTestId("signed-total").textContent()) === owedAfter, "the page's signed total on the channel is the seller's");
  await page.screenshot({ path: shots + "ckb-chat.png" });
  await page.getByRole("link", { name: "Channels" }).click();
  await state.filter({ hasText: /^active$/ }).waitFor({ timeout: 30_000 });

  await pay.getByRole("button", { name: "Settle and close now" }).click();
  await state.filter({ hasText: /^settled$/ }).waitFor({ timeout: 120_000 });
  check(true, "the channel is settled on chain");
  const closing = (await page.getByTestId("ckb-closing").getAttribute("title")).trim();
  const settled = await node("get_transaction", [closing]);
  const outputs = settled.result?.transaction?.outputs ?? [];
  check(settled.result?.tx_status?.status === "committed" && BigInt(outputs[0]?.capacity ?? 0) === 61n * CKB + owedAfter, "the settlement paid the seller its 61 CKB co-funding plus exactly what was paid (the 1.5 CKB and the chat answer)");
  check(outputs[1]?.lock?.args === lockArgs, "the rest went back to the wallet's lock");
  await page.screenshot({ path: shots + "ckb-settled.png", fullPage: true });

  // After a reload the key is locked again: the section asks for the passphrase before it signs.
  await page.reload();
  await page.getByRole("region", { name: "Open a CKB channel" }).getByRole("form", { name: "Unlock your wallet" }).waitFor({ timeout: 30_000 });
  check((await page.getByTestId("ckb-refund").textContent()).includes("Unlock the wallet to add your signature"), "with the wallet locked the refund is still shown, without the buyer's signature");
  await page.getByRole("region", { name: "Open a CKB channel" }).getByLabel(/Wallet passphrase/).fill(passphrase);
  await page.getByRole("region", { name: "Open a CKB channel" }).getByRole("button", { name: "Unlock" }).click();
  await page.getByRole("region", { name: "Open a CKB channel" }).getByRole("button", { name: "Get an offer" }).waitFor();
  check(true, "the passphrase unlocks the wallet in the section");

  await page.setViewportSize({ width: 390, height: 780 });
  await page.getByRole("region", { name: "Your CKB channels" }).evaluate((e) => e.scrollIntoView({ block: "start" }));
  await page.screenshot({ path: shots + "ckb-phone.png" });

  const bare = secret.slice(2);
  check(sent.length > 0 && sent.every((r) => !r.toLowerCase().includes(bare)), `the secret key is in none of the ${sent.length} requests the page made`);
  check(sent.some((r) => r.startsWith(`POST ${rpc}`)), "the page read the chain from the buyer's node itself");
  check(consoleErrors.length === 0, `no console errors: ${consoleErrors.join(" | ")}`);
} catch (e) {
  await recordFailure(failures, browser, e, work);
} finally {
  await browser.close();
}
finish(failures);
