// Wallet login in Debian's Chromium, driven by playwright-core, against a
// running Tollway server (TOLLWAY_URL) serving this app. Records every
// request the page makes and checks that the secret key is in none of
// them; checks the page's console stays clean; keeps screenshots in
// docs/screenshots/.
import { adminKey, base, checks, finish, launch, recordRequests, shots, watchedPage } from "./support/tollway.mjs";

const secret = "0x" + "5a".repeat(32);
const passphrase = "tea and dragons";
const browser = await launch();
const { check, failures } = checks();
try {
  const consoleErrors = [];
  const page = await watchedPage(browser, { width: 1100, height: 760 }, consoleErrors);
  const sent = recordRequests(page);

  await page.goto(base);
  await page.getByLabel("Secret key to import").fill(secret);
  await page.getByLabel("Passphrase", { exact: true }).fill(passphrase);
  await page.getByLabel("Passphrase again").fill(passphrase);
  await page.screenshot({ path: shots + "wallet-create.png" });
  await page.getByRole("button", { name: "Import and lock" }).click();
  await page.getByRole("heading", { name: "Sign in with your wallet" }).waitFor();
  check(/^0x[0-9a-f]{40}$/.test(await page.getByTestId("key-id").textContent()), "the wallet shows its key id");

  await page.getByLabel("Passphrase").fill("not the passphrase");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("alert").waitFor();
  check((await page.getByRole("alert").textContent()).includes("does not open this wallet"), "a wrong passphrase is refused in words");
  await page.screenshot({ path: shots + "wallet-wrong-passphrase.png" });

  await page.getByLabel("Passphrase").fill(passphrase);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByTestId("balance").filter({ hasText: /^[\d,]+$/ }).waitFor();
  check((await page.getByTestId("balance").textContent()) === "0", "the new wallet's user has 0 points");
  check(/^w-[0-9a-f]{40}$/.test(await page.getByTestId("handle").getAttribute("title")), "the wallet's user is shown by its handle");
  await page.screenshot({ path: shots + "wallet-signed-in.png" });

  // With no points, the chat says so before sending and will not send.
  await page.getByLabel("Your message").fill("Hello?");
  await page.getByTestId("guard").filter({ hasText: "not enough" }).waitFor();
  check(await page.getByRole("button", { name: "Send" }).isDisabled(), "with 0 points the guard says not enough and Send is disabled: " + (await page.getByTestId("guard").textContent()));
  await page.screenshot({ path: shots + "chat-insufficient.png" });

  // An API key signs in too, for users without a wallet; a wrong one is refused in words.
  const other = await watchedPage(browser, { width: 1100, height: 760 }, consoleErrors);
  await other.goto(base);
  await other.getByLabel("API key").fill("tw_not_a_key");
  await other.getByRole("button", { name: "Sign in with the key" }).click();
  await other.getByRole("alert").waitFor();
  check((await other.getByRole("alert").textContent()).length > 10, "a wrong API key is refused in words");
  await other.getByLabel("API key").fill(adminKey);
  await other.getByRole("button", { name: "Sign in with the key" }).click();
  await other.getByRole("link", { name: "Admin" }).waitFor();
  check((await other.getByTestId("handle").textContent()) === "admin", "the admin's key signs in and the admin console is offered");
  await other.close();

  const narrow = await browser.newPage({ viewport: { width: 390, height: 780 } });
  await narrow.goto(base);
  await narrow.screenshot({ path: shots + "wallet-phone.png" });

  const bare = secret.slice(2);
  check(sent.length > 0 && sent.every((r) => !r.toLowerCase().includes(bare)), `the secret key is in none of the ${sent.length} requests the page made`);
  check(sent.some((r) => r.includes("/api/auth/wallet")), "the page logged in through /api/auth/wallet");
  check(consoleErrors.filter((e) => !e.includes("401") && !e.includes("Failed to load resource")).length === 0, `no console errors: ${consoleErrors.join(" | ")}`);
} finally {
  await browser.close();
}
finish(failures);
