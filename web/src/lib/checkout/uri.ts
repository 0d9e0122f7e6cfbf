// The EIP-681 link a wallet opens from the QR code. The page shows the
// address and the amount as text and the link as a QR code; before it
// shows either, it checks that they say the same thing: the link names
// the view's token contract, chain, deposit address and exact units, and
// the displayed amount is those units. The QR code then encodes exactly
// the server's `payment_uri`, byte for byte.
import { parseAmount } from "./amount";
import type { PaymentView } from "./types";

/** What the QR code may encode (exactly `payment_uri`), or why the page must not offer it. */
export type UriCheck = { ok: true; payload: string } | { ok: false; problem: string };

const LINK = /^ethereum:(0x[0-9a-fA-F]{40})@(\d+)\/transfer\?address=(0x[0-9a-fA-F]{40})&uint256=(\d+)$/;

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Checks `view.payment_uri` (`ethereum:{token}@{chainId}/transfer?address={to}&uint256={units}`)
 * against the rest of the view; the payload to encode when they agree.
 */
export function checkPaymentUri(view: PaymentView): UriCheck {
  const match = LINK.exec(view.payment_uri);
  if (!match) return { ok: false, problem: "The payment link is not an EIP-681 token transfer with only an address and an amount." };
  const [, token, chain, to, units] = match;
  if (!sameAddress(token, view.token_address)) return { ok: false, problem: "The payment link names another token contract than the one shown." };
  if (BigInt(chain) !== BigInt(view.chain_id)) return { ok: false, problem: "The payment link names another chain than the one shown." };
  if (!sameAddress(to, view.deposit_address)) return { ok: false, problem: "The payment link pays another address than the one shown." };
  if (BigInt(units) !== BigInt(view.amount_units)) return { ok: false, problem: "The payment link asks for another amount than the one shown." };
  const shown = parseAmount(view.amount, view.decimals);
  if (!shown.ok || shown.units !== BigInt(view.amount_units)) return { ok: false, problem: "The amount shown is not the amount in the token's units." };
  return { ok: true, payload: view.payment_uri };
}
