// The stablecoin checkout (issue 15) in Debian's Chromium against a
// running Tollway whose EVM rail is on (a local anvil with USDT, USDC and
// BUSD): an anonymous buyer picks a product and USDT at #/pay and reaches
// the pay page, whose QR code, address, amount and token contract are the
// server's; a reload restores it; the exact transfer is sent to anvil from
// its first default account and the page turns to success by itself,
// showing the transaction sent. Then a signed-in buyer pays by pasting the
// hash and is credited exactly the product's points; then the admin's
// payments monitor shows the payment's status updates. No console errors,
// no key in an anonymous request. Screenshots docs/screenshots/checkout-*.png.
// Skips when the server does not serve /api/v1/networks (the rail is off).
import { adminKey, base, checks, createUser, finish, grouped, launch, ok, realErrors, recordRequests, shots, signIn, watchedPage } from "./support/tollway.mjs";

/** A public endpoint from node, without a key: its status and JSON. */
async function open(method, path, body) {
  const r = await fetch(base + path, { method, headers: body ? { "content-type": "application/json" } : {}, body: body && JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}
async function get(path) {
  const r = await open("GET", path);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

const probe = await open("GET", "/api/v1/networks").catch(() => ({ status: 0 }));
if (probe.status !== 200 || !probe.json?.some((n) => n.is_active)) {
  // scripts/e2e.sh always turns the rail on: its absence is a failure, never a skip.
  console.error(`FAIL: web/e2e/checkout.mjs needs the EVM rail (GET /api/v1/networks answered ${probe.status}): run it through scripts/e2e.sh, which starts the server with TOLLWAY_EVM_DEVNET=1`);
  process.exit(1);
}

const { check, failures } = checks();
const network = probe.json.find((n) => n.is_active);
const usdt = (await get("/api/v1/tokens")).find((t) => t.symbol === "USDT" && t.network === network.id);
const products = await get("/api/v1/products");
const product = products[0];
if (!usdt || !product) throw new Error(`no USDT on ${network.id}, or no product`);
console.log(`setup: ${network.id} (chain ${network.chain_id}, rpc ${network.rpc_url}), USDT ${usdt.contract_address}, product ${product.id} for ${product.points} points`);

// anvil's first default account, unlocked: the buyer's wallet.
const BUYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
async function rpc(method, params) {
  const r = await fetch(network.rpc_url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const json = await r.json();
  if (json.error) throw new Error(`${method}: ${JSON.stringify(json.error)}`);
  return json.result;
}
const word = (hex) => hex.replace(/^0x/, "").toLowerCase().padStart(64, "0");
/** ERC-20 `transfer(deposit_address, amount_units)` of the payment's token; the transaction hash. */
const pay = (view) => rpc("eth_sendTransaction", [{
  from: BUYER, to: view.token_address,
  data: "0xa9059cbb" + word(view.deposit_address) + word(BigInt(view.amount_units).toString(16)),
}]);

/** Chooses `product` and USDT on the open checkout and continues; the new payment's id. */
async function checkout(page, shot) {
  const form = page.getByRole("form", { name: "Buy points" });
  await form.locator(`input[type=radio][value="${product.id}"]`).check();
  await form.getByRole("combobox", { name: /^Token/ }).selectOption("USDT");
  if (shot) await page.screenshot({ path: shots + shot, fullPage: true });
  await form.getByRole("button", { name: "Continue to payment" }).click();
  await page.waitForURL(/#\/pay\/pay_[0-9a-f]+$/);
  await page.getByTestId("pay-qr").waitFor();
  return new URL(page.url()).hash.split("/")[2];
}
const text = (page, id) => page.getByTestId(id).textContent();
const live = (page) => page.locator("[data-testid=socket][data-phase=live]").waitFor({ timeout: 15000 });

const browser = await launch();
const consoleErrors = [];
try {
  // 1. Anonymous: choose, pay, see it arrive.
  const page = await watchedPage(browser, { width: 1100, height: 900 }, consoleErrors, { permissions: ["clipboard-read", "clipboard-write"] });
  const sent = recordRequests(page, { headers: true });
  const frames = [];
  page.on("websocket", (ws) => ws.on("framereceived", (f) => frames.push(String(f.payload))));
  await page.goto(base + "/#/pay");
  const id = await checkout(page, "checkout-choose.png");
  const view = await get(`/api/v1/payments/${id}`);
  check(view.status === "waiting" && view.user === null && view.product_id === product.id && view.token === "USDT", `an anonymous payment ${id} of ${view.amount} USDT for ${product.id}, waiting`);
  const created = sent.find((r) => r.startsWith("POST ") && r.includes("/api/v1/payments "));
  check(created !== undefined && !created.includes('"user"') && !/authorization/i.test(created), "the anonymous buyer sent no user and no key");
  check((await page.getByTestId("pay-qr").getAttribute("data-payload")) === view.payment_uri, `the QR code encodes the server's payment_uri (${view.payment_uri})`);
  check((await text(page, "pay-address")) === view.deposit_address, "the address shown is the server's deposit address");
  check((await text(page, "pay-amount")) === view.amount, `the amount shown is the server's exact amount (${view.amount})`);
  check((await text(page, "pay-token")) === view.token_address && view.token_address.toLowerCase() === usdt.contract_address.toLowerCase(), "the token contract shown is USDT's");
  await page.getByRole("button", { name: "Copy the amount" }).click();
  check((await page.evaluate(() => navigator.clipboard.readText())) === view.amount, "Copy puts the exact amount on the clipboard");
  check(/^\d+:\d\d(:\d\d)?$/.test(await text(page, "countdown")), `a countdown to expires_at (${await text(page, "countdown")})`);
  await live(page);
  await page.screenshot({ path: shots + "checkout-pay.png", fullPage: true });

  await page.reload();
  await page.getByTestId("pay-qr").waitFor();
  check((await text(page, "pay-amount")) === view.amount && (await text(page, "pay-address")) === view.deposit_address, "a reload restores the pay page from the server");
  await live(page);
  // Marks this document (gone after a reload) and notes every "n of required" shown while confirming.
  await page.evaluate(() => {
    window.tollwaySameDocument = true;
    window.tollwayConfirmations = [];
    new MutationObserver(() => {
      const shown = document.querySelector("[data-testid=confirmations]")?.textContent;
      if (shown && !window.tollwayConfirmations.includes(shown)) window.tollwayConfirmations.push(shown);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const hash = await pay(view);
  console.log(`sent ${view.amount} USDT to ${view.deposit_address}: ${hash}`);
  await page.getByTestId("pay-success").waitFor({ timeout: 60000 });
  check(await page.evaluate(() => window.tollwaySameDocument === true), "the page turned to success by itself, without a reload");
  const paid = await get(`/api/v1/payments/${id}`);
  const receipt = await rpc("eth_getTransactionReceipt", [hash]);
  check(paid.status === "paid" && paid.transaction?.hash.toLowerCase() === hash.toLowerCase(), "the server says paid, by that transaction");
  check((await text(page, "success-tx")).toLowerCase() === hash.toLowerCase(), `the transaction shown is the one sent (${hash})`);
  check((await text(page, "success-block")) === String(Number(receipt.blockNumber)), `its block is the receipt's (${Number(receipt.blockNumber)})`);
  const [shown, required] = (await text(page, "success-confirmations")).split(" of ").map(Number);
  check(required === view.confirmations_required && shown >= required, `confirmations shown: ${shown} of ${required}`);
  check((await text(page, "success-amount")) === paid.amount_received, `the amount received shown is the server's (${paid.amount_received})`);
  check((await text(page, "success-points")).includes("without signing in"), "no points for an anonymous buyer, in words");
  const updates = frames.map((f) => JSON.parse(f)).filter((m) => m.type === "payment_status_update");
  check(updates.some((m) => m.paymentId === id && m.data.status === "paid" && m.data.transactionHash?.toLowerCase() === hash.toLowerCase()), `the page heard "paid" over its WebSocket (${updates.map((m) => m.data.status).join(" → ")})`);
  const confirming = updates.filter((m) => m.data.status === "confirming").map((m) => `${m.data.confirmations} of ${view.confirmations_required}`);
  const seen = await page.evaluate(() => window.tollwayConfirmations);
  check(confirming.every((c) => seen.includes(c)), `while confirming the page showed ${seen.join(", ") || "no count (no confirming update came)"}`);
  await page.screenshot({ path: shots + "checkout-success.png", fullPage: true });
  await page.reload();
  await page.getByTestId("pay-success").waitFor();
  check((await text(page, "success-tx")).toLowerCase() === hash.toLowerCase(), "a reload of the paid payment shows the success page");

  // 2. Signed in: the points go to the buyer; the hash pasted in the form.
  const handle = `buyer-${Date.now().toString(36)}`;
  const user = await createUser(handle);
  const before = await ok("GET", "/api/user/points/balance", user.key);
  const page2 = await watchedPage(browser, { width: 1100, height: 900 }, consoleErrors);
  const sent2 = recordRequests(page2, { headers: true });
  await signIn(page2, user.key, "#/pay");
  check((await page2.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Buy" }).count()) === 1, "the signed-in nav offers Buy");
  const id2 = await checkout(page2);
  const view2 = await get(`/api/v1/payments/${id2}`);
  const created2 = sent2.find((r) => r.startsWith("POST ") && r.includes("/api/v1/payments "));
  check(view2.user === handle && view2.points === product.points && created2?.includes(`"user":"${handle}"`) && created2.includes(`Bearer ${user.key}`), `the payment names ${handle}, sent with the session's key`);
  const form = page2.getByRole("form", { name: "Submit a transaction hash" });
  await form.getByLabel("Transaction hash").fill("0x1234");
  await form.getByRole("button", { name: "Check this transaction" }).click();
  const refusal = await form.getByRole("alert").textContent();
  check(refusal.includes("64 hexadecimal digits") && refusal.includes("invalid_transaction_hash"), `a malformed hash is refused in words: ${refusal}`);
  const hash2 = await pay(view2);
  await form.getByLabel("Transaction hash").fill(hash2);
  await form.getByRole("button", { name: "Check this transaction" }).click();
  await page2.getByTestId("pay-success").waitFor({ timeout: 60000 });
  check((await text(page2, "success-tx")).toLowerCase() === hash2.toLowerCase(), "the signed-in payment is paid by the transaction pasted");
  check((await text(page2, "success-points")) === `${grouped(product.points)} credited to ${handle}`, `the page says ${grouped(product.points)} points were credited to ${handle}`);
  const after = await ok("GET", "/api/user/points/balance", user.key);
  check(BigInt(after.balance) - BigInt(before.balance) === BigInt(product.points), `the balance rose by exactly the product's points (${before.balance} → ${after.balance})`);
  await page2.waitForFunction((b) => document.querySelector("[data-testid=balance]")?.textContent === b, grouped(after.balance), { timeout: 10000 });
  check(true, "the top bar shows the new balance");
  await page2.screenshot({ path: shots + "checkout-signed-in.png", fullPage: true });

  // 3. The admin's payments monitor: the status updates sent for payment 1.
  const logged = await ok("GET", "/api/v1/stats/websocket/messages?limit=100", adminKey);
  const ofPayment = logged.messages.filter((m) => m.source === "frontend" && m.type === "payment_status_update" && m.paymentId === id);
  check(ofPayment.some((m) => m.data.status === "paid"), `the server logged ${ofPayment.length} status updates sent for ${id}, the last paid`);
  const admin = await watchedPage(browser, { width: 1200, height: 900 }, consoleErrors);
  await signIn(admin, adminKey, "#/admin/payments");
  const pages = admin.getByRole("region", { name: "Messages with the pages" });
  await pages.getByTestId("log-frontend").waitFor();
  await pages.getByLabel("Type").selectOption("payment_status_update");
  await admin.waitForFunction(() => [...document.querySelectorAll("[data-testid=log-frontend] > li")].every((li) => li.getAttribute("data-type") === "payment_status_update"));
  const mine = pages.locator(`ol.log > li[data-payment="${id}"]`);
  check((await mine.count()) === ofPayment.length, `the monitor lists those ${ofPayment.length} updates of ${id}`);
  const data = await mine.locator("pre").allTextContents();
  check(data.some((d) => d.includes('"status": "paid"') && d.toLowerCase().includes(hash.toLowerCase())), "one is the paid update naming the transaction, its data as formatted JSON");
  const times = await pages.locator("ol.log > li time").evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute("datetime"))));
  check(times.every((t, i) => i === 0 || t <= times[i - 1]), "the log is newest first");
  check((await admin.getByTestId("last-updated").textContent()).includes("Last updated"), "the last update time is shown");
  check((await admin.getByTestId("stats-blockchain").count()) === 1 && (await admin.getByTestId("stats-frontend").count()) === 1, "both sides' connection statistics are shown");
  await admin.screenshot({ path: shots + "checkout-admin-monitor.png", fullPage: true });

  // 4. Phone width: a pay page, nothing wider than the screen.
  const made = await open("POST", "/api/v1/payments", { product_id: product.id, token: "USDT", network: network.id });
  check(made.status === 201, `a payment created from node without a key (${made.status})`);
  const phone = await watchedPage(browser, { width: 390, height: 844 }, consoleErrors);
  await phone.goto(`${base}/#/pay/${made.json.id}`);
  await phone.getByTestId("pay-qr").waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `no sideways scrolling at 390 px (${overflow} px over)`);
  await phone.screenshot({ path: shots + "checkout-phone.png", fullPage: true });

  check(realErrors(consoleErrors).length === 0, `no console errors: ${consoleErrors.join(" | ")}`);
} finally {
  await browser.close();
}
finish(failures);
