// The chat paid per chunk, in Debian's Chromium against a real server and
// the real model (scripts/e2e.sh): a wallet signs in, is granted points,
// chats paying from points (the balance falls as the answer streams), opens
// a ledger channel, chats with auto-pay (the receipts total the server's
// cost, each accepted), with manual pay (the answer pauses until approved),
// and meets a hostile server (a proposal inflated in transit) that the page
// refuses to sign. Every request is recorded: the secret key is in none.
import { adminKey, base, checks, launch, ok, realErrors, finish, recordRequests, shots, walletSignIn, watchedPage } from "./support/tollway.mjs";

const secret = "0x" + "6b".repeat(32);
const passphrase = "tea and dragons";
const { check, failures } = checks();
const api = (method, path, body, key = adminKey) => ok(method, path, key, body);
const num = (text) => BigInt((text ?? "").replace(/[^0-9-]/g, "") || "0");

const browser = await launch();
try {
  const consoleErrors = [];
  const page = await watchedPage(browser, { width: 1200, height: 860 }, consoleErrors);
  const sent = recordRequests(page, { headers: true });

  // Sign in with a wallet; the admin grants its user points.
  await walletSignIn(page, secret, passphrase);
  const handle = await page.getByTestId("handle").getAttribute("title");
  await api("POST", "/api/admin/points/grant", { user: handle, amount: "5000", reason: "e2e chat", id: "e2e-chat-grant" });
  await page.reload();
  await page.getByTestId("balance").filter({ hasText: "5,000" }).waitFor();
  check(true, `the wallet's user ${handle} sees its 5,000 points`);

  const send = async (text) => {
    await page.getByLabel("Your message").fill(text);
    await page.getByRole("button", { name: "Send" }).click();
  };
  const answered = () => page.getByRole("button", { name: "Send" }).or(page.getByRole("button", { name: "Pay the rest" })).first().waitFor({ timeout: 120_000 });

  // 1. Points: the estimate before sending, the balance falling while it streams.
  await page.getByLabel("Max tokens").fill("60");
  await page.getByLabel("Your message").fill("Tell me a short story about a dragon who loves tea.");
  await page.getByTestId("guard").filter({ hasText: "can proceed" }).waitFor();
  const estimateText = await page.getByTestId("guard").textContent();
  const estimate = await api("GET", `/api/user/points/estimate?model=smollm2-135m-instruct&input_tokens=1&output_tokens=60`);
  check(num(estimateText.split("points")[0]) >= BigInt(estimate.estimated_cost), `the guard shows a cost before sending: ${estimateText.trim()}`);
  const before = num(await page.getByTestId("available").textContent());
  await page.getByRole("button", { name: "Send" }).click();
  const seen = new Set();
  const watch = setInterval(async () => seen.add(await page.getByTestId("available").textContent().catch(() => "")), 150);
  await page.getByTestId("answer").waitFor();
  await page.screenshot({ path: shots + "chat-points-streaming.png" });
  await answered();
  clearInterval(watch);
  const cost = num(await page.getByTestId("answer-cost").textContent());
  await page.getByTestId("balance").filter({ hasText: (before - cost).toLocaleString("en-US") }).waitFor();
  check(cost > 0n, `the answer cost ${cost} points, and the balance is ${before} - ${cost}`);
  check(seen.size >= 3, `the available points changed while the answer streamed (${[...seen].join(" → ")})`);
  await page.screenshot({ path: shots + "chat-points.png" });

  // 2. A ledger channel.
  await page.getByRole("link", { name: "Channels" }).click();
  const opening = page.getByRole("region", { name: "Open a channel" });
  await opening.getByLabel("Wallet passphrase (to sign receipts in this tab)").fill(passphrase);
  await opening.getByRole("button", { name: "Unlock" }).click();
  await page.getByLabel("Deposit (points)").fill("2000");
  await page.getByRole("button", { name: "Open channel" }).click();
  await page.getByTestId("channels").locator("tbody tr").first().waitFor();
  const channelId = await page.getByTestId("channels").locator("tbody tr code").first().getAttribute("title");
  const remote = await api("GET", `/api/channels/${channelId}`, undefined, JSON.parse(await page.evaluate(() => sessionStorage.getItem("tollway.session"))).api_key);
  check(remote.collateral === "2000" && remote.open, `channel ${channelId} holds 2,000 points in escrow`);
  await page.screenshot({ path: shots + "channels-ledger.png" });

  // 3. Auto-pay: every receipt accepted, their total is the server's cost.
  await page.getByRole("link", { name: "Chat" }).click();
  await page.getByLabel("Pay from").selectOption(channelId);
  await page.getByRole("button", { name: "New chat" }).click();
  await page.getByLabel("Max tokens").fill("60");
  await send("Name three kinds of tea.");
  await answered();
  const rows = page.getByTestId("receipts").locator("tbody tr");
  const shown = await rows.count();
  const accepted = await rows.filter({ hasText: "accepted" }).count();
  const summary = await page.getByTestId("receipt-count").textContent();
  const autoCost = num(await page.getByTestId("answer-cost").textContent());
  const signed = num(await page.getByTestId("signed-total").textContent());
  check(shown === 12 && accepted === shown && num(summary.split(" receipts")[0]) > 12, `auto-pay: ${summary.trim()} The last ${shown} shown are all accepted.`);
  check(num(summary.split("add ")[1]) === autoCost, "the receipts add up to the server's cost");
  check(autoCost > 0n && signed === autoCost, `auto-pay total ${signed} = the server's cost ${autoCost}`);
  const owed = (await api("GET", `/api/channels/${channelId}`, undefined, JSON.parse(await page.evaluate(() => sessionStorage.getItem("tollway.session"))).api_key)).owed;
  check(BigInt(owed) === signed, `the payee's accepted total ${owed} is what the page signed`);
  await page.screenshot({ path: shots + "chat-auto-pay.png" });

  // 4. Manual pay: the answer pauses; approving a pause lets it go on.
  await page.getByLabel("Payment mode").selectOption("manual");
  await page.getByRole("button", { name: "New chat" }).click();
  await page.getByLabel("Max tokens").fill("48");
  const signedBefore = num(await page.getByTestId("signed-total").textContent());
  await send("Describe a teapot in detail.");
  const approve = page.getByRole("button", { name: "Approve and continue" });
  await approve.waitFor({ timeout: 60_000 });
  const chunksAtPause = num(await page.getByTestId("chunks").textContent());
  await page.waitForTimeout(1500);
  check(num(await page.getByTestId("chunks").textContent()) === chunksAtPause, `manual pay: the answer waits at ${chunksAtPause} chunks until approved`);
  await page.screenshot({ path: shots + "chat-manual-pause.png" });
  let approvals = 0;
  for (;;) {
    const next = await Promise.race([
      approve.waitFor({ timeout: 60_000 }).then(() => "approve"),
      page.getByRole("button", { name: "Pay the rest" }).waitFor({ timeout: 60_000 }).then(() => "rest"),
      page.getByRole("button", { name: "Send" }).waitFor({ timeout: 60_000 }).then(() => "done"),
    ]);
    if (next !== "approve") break;
    await approve.click();
    approvals += 1;
  }
  // The rest is left unpaid: the next message first shows what is owed,
  // and only the person's click pays it.
  await page.getByRole("button", { name: "Pay the rest" }).waitFor();
  const restAt = num(await page.getByTestId("signed-total").textContent());
  const manualCost = num(await page.getByTestId("answer-cost").textContent());
  await page.getByLabel("Payment mode").selectOption("auto");
  await send("And the cup?");
  await page.getByRole("button", { name: "Pay it and send again" }).waitFor({ timeout: 60_000 });
  const leftover = num(await page.getByTestId("leftover-amount").textContent());
  check(num(await page.getByTestId("signed-total").textContent()) === restAt, "nothing is signed for the leftover before the click");
  await page.screenshot({ path: shots + "chat-leftover.png" });
  await page.getByRole("button", { name: "Pay it and send again" }).click();
  await page.getByTestId("answer-cost").waitFor({ timeout: 120_000 });
  await answered();
  const followCost = num(await page.getByTestId("answer-cost").textContent());
  const manualTotal = num(await page.getByTestId("signed-total").textContent());
  check(approvals >= 1 && leftover > 0n, `manual pay: ${approvals} pause(s) approved by a click, ${leftover} left unpaid and paid on approval before the next message`);
  check(manualTotal === signedBefore + manualCost + followCost, `signed ${manualTotal} = ${signedBefore} + the manual answer's ${manualCost} + the next answer's ${followCost}`);
  await page.screenshot({ path: shots + "chat-manual-pay.png" });

  // 5. A hostile server: one proposal inflated in transit is refused, unsigned.
  await page.getByRole("button", { name: "New chat" }).click();
  const hostileBefore = num(await page.getByTestId("signed-total").textContent());
  // The server's stream is altered on its way into the page (as a hostile
  // payee would send it): the third proposal asks for 1,000 more.
  await page.evaluate(() => {
    const original = window.fetch;
    window.fetch = async (input, init) => {
      const response = await original(input, init);
      if (!String(input).includes("/v1/chat/completions") || !response.body) return response;
      let seen = 0;
      let carry = "";
      const decoder = new TextDecoder();
      const encoder = new TextEncoder();
      const inflate = new TransformStream({
        transform(bytes, out) {
          let text = carry + decoder.decode(bytes, { stream: true });
          const cut = text.lastIndexOf("\n") + 1;
          carry = text.slice(cut);
          text = text.slice(0, cut).replace(/"proposal":"0x([0-9a-f]{186})"/g, (whole, hex) => {
            if (++seen !== 3) return whole;
            const amount = BigInt("0x" + hex.slice(154)) + 1000n;
            return `"proposal":"0x${hex.slice(0, 154)}${amount.toString(16).padStart(32, "0")}"`;
          });
          out.enqueue(encoder.encode(text));
        },
        flush(out) {
          out.enqueue(encoder.encode(carry));
        },
      });
      return new Response(response.body.pipeThrough(inflate), { status: response.status, headers: response.headers });
    };
    window.restoreFetch = () => (window.fetch = original);
  });
  // Above the message's cap: refused.
  await page.getByLabel("Cap per message").fill("50");
  await send("Say hello.");
  await page.getByRole("alert").filter({ hasText: "more than this message's cap" }).waitFor({ timeout: 60_000 });
  await answered();
  check(true, "a proposal above the message's cap is refused: " + (await page.getByRole("alert").textContent()).trim());
  // Within the cap but above what arrived: refused too.
  await page.getByLabel("Cap per message").fill("1500");
  await page.getByRole("button", { name: "New chat" }).click();
  await send("Say hello.");
  // What the refused answer delivered before the refusal is still owed: the person pays it first.
  const received = page.getByRole("alert").filter({ hasText: "more than the answer you received is worth" });
  if ((await Promise.race([
    page.getByRole("button", { name: "Pay it and send again" }).waitFor({ timeout: 60_000 }).then(() => "leftover"),
    received.waitFor({ timeout: 60_000 }).then(() => "refused"),
  ])) === "leftover") await page.getByRole("button", { name: "Pay it and send again" }).click();
  await received.waitFor({ timeout: 60_000 });
  const refusal = await page.getByRole("alert").filter({ hasText: "more than the answer you received is worth" }).textContent();
  await page.evaluate(() => window.restoreFetch());
  await answered();
  const hostileAfter = num(await page.getByTestId("signed-total").textContent());
  check(hostileAfter - hostileBefore < 1000n, `an inflated proposal is refused (${refusal.trim()}); the page signed only ${hostileAfter - hostileBefore} in the two answers`);
  await page.screenshot({ path: shots + "chat-refused.png" });

  // 6. A reload mid-stream: nothing is signed twice; what the payee says
  // is unpaid is shown, paid on approval, and the message goes out again.
  await page.getByLabel("Cap per message").fill("");
  await page.getByLabel("Max tokens").fill("120");
  await page.getByRole("button", { name: "New chat" }).click();
  await send("Write a long poem about tea.");
  // The refused answer's delivered part is owed first.
  if ((await Promise.race([
    page.getByRole("button", { name: "Pay it and send again" }).waitFor({ timeout: 60_000 }).then(() => "leftover"),
    page.getByTestId("answer").waitFor({ timeout: 60_000 }).then(() => "streaming"),
  ])) === "leftover") await page.getByRole("button", { name: "Pay it and send again" }).click();
  await page.getByTestId("chunks").filter({ hasText: /^([1-9][0-9])$/ }).waitFor({ timeout: 60_000 }).catch(async (e) => {
    await page.screenshot({ path: "/tmp/chat-debug.png", fullPage: true });
    throw e;
  });
  await page.reload();
  const token = JSON.parse(await page.evaluate(() => sessionStorage.getItem("tollway.session"))).api_key;
  await page.getByLabel("Pay from").selectOption(channelId);
  await page.getByLabel("Wallet passphrase (to sign receipts in this tab)").fill(passphrase);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.waitForTimeout(1500);
  const cut = (await api("GET", `/api/channels/${channelId}`, undefined, token)).subs[0];
  const signedAtReload = num(await page.getByTestId("signed-total").textContent());
  check(BigInt(cut.accumulated) === signedAtReload, `after the reload the payee holds the page's latest receipt (${cut.accumulated}); nothing was lost or signed twice`);
  await page.getByRole("button", { name: "New chat" }).click();
  await send("Hello again.");
  const outcome = await Promise.race([
    page.getByRole("button", { name: "Pay it and send again" }).waitFor({ timeout: 60_000 }).then(() => "leftover"),
    page.getByTestId("answer-cost").waitFor({ timeout: 60_000 }).then(() => "answered"),
  ]);
  if (outcome === "leftover") {
    const leftover = num(await page.getByTestId("leftover-amount").textContent());
    await page.screenshot({ path: shots + "chat-leftover.png" });
    check(leftover > 0n && leftover <= 64n, `the payee asks for ${leftover} points of delivered, unsigned work (at most one window)`);
    await page.getByRole("button", { name: "Pay it and send again" }).click();
  }
  await page.getByTestId("answer-cost").waitFor({ timeout: 120_000 });
  await answered();
  const after = (await api("GET", `/api/channels/${channelId}`, undefined, token)).subs[0];
  const signedAfter = num(await page.getByTestId("signed-total").textContent());
  check(BigInt(after.accumulated) === signedAfter, `the next answer is paid (${outcome}); the payee's total ${after.accumulated} is the page's`);

  // 7. Close: the rest of the escrow returns to the points balance.
  await page.getByRole("link", { name: "Channels" }).click();
  await page.getByRole("button", { name: "Close" }).click();
  await page.getByTestId("channels").getByText("refunded").waitFor();
  const closed = await api("GET", `/api/channels/${channelId}`, undefined, JSON.parse(await page.evaluate(() => sessionStorage.getItem("tollway.session"))).api_key);
  check(!closed.open && BigInt(closed.refunded) + BigInt(closed.owed) === 2000n, `the channel closed: ${closed.owed} owed, ${closed.refunded} refunded to points`);
  await page.getByRole("heading", { name: "Latest receipts signed here" }).waitFor();
  await page.screenshot({ path: shots + "channels-closed.png", fullPage: true });

  const phone = await browser.newPage({ viewport: { width: 390, height: 820 } });
  await phone.goto(base);
  await phone.evaluate((s) => sessionStorage.setItem("tollway.session", s), await page.evaluate(() => sessionStorage.getItem("tollway.session")));
  await phone.reload();
  await phone.getByLabel("Your message").waitFor();
  await phone.screenshot({ path: shots + "chat-phone.png", fullPage: true });

  const bare = secret.slice(2);
  check(sent.every((r) => !r.toLowerCase().includes(bare)), `the secret key is in none of the ${sent.length} requests the page made`);
  check(realErrors(consoleErrors).length === 0, `no console errors: ${consoleErrors.join(" | ")}`);
} finally {
  await browser.close();
}
finish(failures);
