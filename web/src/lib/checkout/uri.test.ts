import { describe, expect, it } from "vitest";
import { waitingView } from "./fixtures";
import { qrModules, qrPath } from "./qr";
import { checkPaymentUri } from "./uri";

describe("checkPaymentUri", () => {
  it("gives the server's payment_uri, byte for byte, when it agrees with the view", () => {
    const view = waitingView();
    expect(checkPaymentUri(view)).toEqual({ ok: true, payload: view.payment_uri });
  });
  it("accepts addresses in another letter case (checksummed or not)", () => {
    const view = { ...waitingView(), deposit_address: waitingView().deposit_address.toLowerCase() };
    expect(checkPaymentUri(view)).toEqual({ ok: true, payload: view.payment_uri });
  });
  it("refuses a link that pays something other than what is shown", () => {
    const view = waitingView();
    const other = (changes: Partial<typeof view>) => checkPaymentUri({ ...view, ...changes });
    expect(other({ amount_units: "1000002000000000000", amount: "1.000002" })).toMatchObject({ ok: false, problem: expect.stringContaining("another amount") });
    expect(other({ deposit_address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" })).toMatchObject({ ok: false, problem: expect.stringContaining("another address") });
    expect(other({ token_address: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512" })).toMatchObject({ ok: false, problem: expect.stringContaining("another token") });
    expect(other({ chain_id: 97 })).toMatchObject({ ok: false, problem: expect.stringContaining("another chain") });
    expect(other({ amount: "1.00001" })).toMatchObject({ ok: false, problem: expect.stringContaining("amount shown") });
  });
  it("refuses links with anything else in them", () => {
    const view = waitingView();
    for (const uri of [
      view.payment_uri + "&value=1",
      view.payment_uri.replace("/transfer", "/approve"),
      view.payment_uri.replace("uint256=1000001000000000000", "uint256=1.000001e18"),
      view.payment_uri.replace("@56", ""),
      "bitcoin:1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
    ]) expect(checkPaymentUri({ ...view, payment_uri: uri }).ok).toBe(false);
  });
  it("the amount shown may keep trailing zeros", () => {
    expect(checkPaymentUri({ ...waitingView(), amount: "1.0000010" }).ok).toBe(true);
  });
});

describe("qrModules", () => {
  it("draws a square code with the three finder patterns", () => {
    const modules = qrModules(waitingView().payment_uri);
    const size = modules.length;
    expect(size).toBeGreaterThanOrEqual(21);
    expect((size - 17) % 4).toBe(0);
    expect(modules.every((row) => row.length === size)).toBe(true);
    for (const [r, c] of [[0, 0], [0, size - 7], [size - 7, 0]]) {
      expect(modules[r].slice(c, c + 7).every(Boolean)).toBe(true);
      expect(modules[r + 1][c + 1]).toBe(false);
      expect(modules[r + 3][c + 3]).toBe(true);
    }
  });
  it("is the same code for the same text, another for another", () => {
    const uri = waitingView().payment_uri;
    expect(qrModules(uri)).toEqual(qrModules(uri));
    expect(qrModules(uri.replace("uint256=1", "uint256=2"))).not.toEqual(qrModules(uri));
  });
  it("draws one square per dark module", () => {
    expect(qrPath([[true, false], [false, true]], 4)).toBe("M4 4h1v1h-1zM5 5h1v1h-1z");
  });
});
