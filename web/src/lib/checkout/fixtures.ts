// A payment view as the server sends it, for the checkout's unit tests.
import type { PaymentView } from "./types";

/** A waiting payment of 1.000001 USDT on the local BNB Smart Chain (chain 56). */
export function waitingView(): PaymentView {
  return {
    id: "pay_0123456789abcdef0123456789abcdef",
    status: "waiting",
    exception: null,
    product_id: "points-10k",
    description: "10,000 points",
    network: "bsc-local",
    chain_id: 56,
    token: "USDT",
    token_address: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    decimals: 18,
    deposit_address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    amount: "1.000001",
    amount_units: "1000001000000000000",
    requested_amount: "1",
    amount_received: "0",
    amount_received_units: "0",
    points: "10000",
    user: null,
    payment_uri: "ethereum:0x5FbDB2315678afecb367f032d93F642f64180aa3@56/transfer?address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8&uint256=1000001000000000000",
    confirmations_required: 3,
    created_at: "2026-12-04T10:00:00Z",
    expires_at: "2026-12-04T10:15:00Z",
    paid_at: null,
    transaction: null,
    metadata: {},
  };
}
