-- The CKB hub's books (issue 16, docs/hub.md). Amounts and capacities are
-- shannons in BIGINT (CKB's total supply fits 63 bits); transactions and
-- their hashes are bytes; parties are `0x` + 40 lowercase hex digits of
-- lock args; cells are out points `0x<tx hash>:<index>`.
--
-- `hub_cells` is the hub's pool: a cell is `free`, `leased` (to
-- `payment:{id}`, `payout:{id}` or `rebalance:{id}`: taken by
-- compare-and-set on `state = 'free'`) or `spent`.
CREATE TABLE hub_cells (
    out_point TEXT PRIMARY KEY,
    capacity BIGINT NOT NULL,
    state TEXT NOT NULL,
    lease TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX hub_cells_state ON hub_cells (state, capacity);
CREATE INDEX hub_cells_lease ON hub_cells (lease);
-- A payment (the seed's `payment`): prepared -> sent -> complete, or
-- failed / expired. An open one (prepared or sent) holds its pool cell:
-- no two open payments ever name the same one.
CREATE TABLE hub_payments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state TEXT NOT NULL,
    sender TEXT NOT NULL,
    receiver TEXT NOT NULL,
    amount BIGINT NOT NULL,
    fee BIGINT NOT NULL,
    change BIGINT NOT NULL,
    tx_hash BYTEA NOT NULL,
    prepared_tx BYTEA NOT NULL,
    signed_tx BYTEA,
    pool_cell TEXT NOT NULL,
    sender_cells TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    user_id BIGINT REFERENCES users(id),
    points TEXT,
    creator TEXT NOT NULL,
    block_number BIGINT,
    new_pool_cell TEXT,
    failure TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX hub_payments_open_pool_cell ON hub_payments (pool_cell) WHERE state IN ('prepared', 'sent');
CREATE INDEX hub_payments_creator ON hub_payments (creator, state);
CREATE INDEX hub_payments_sender ON hub_payments (sender, id);
CREATE INDEX hub_payments_sender_state ON hub_payments (sender, state);
CREATE INDEX hub_payments_receiver ON hub_payments (receiver, id);
CREATE INDEX hub_payments_state ON hub_payments (state, expires_at);
-- The sender's cells an open payment spends; `open` is 1 while the
-- payment is prepared or sent, and no cell is in two open rows.
CREATE TABLE hub_sender_cells (
    payment_id BIGINT NOT NULL REFERENCES hub_payments(id),
    out_point TEXT NOT NULL,
    open INTEGER NOT NULL,
    PRIMARY KEY (payment_id, out_point)
);
CREATE UNIQUE INDEX hub_sender_cells_open ON hub_sender_cells (out_point) WHERE open = 1;
-- An on-chain transaction of the hub's own cells, stored before it is
-- sent: a `payout` (one output per party, then the change) or a
-- `rebalance` (a split or merge of pool cells). sent -> paid (committed)
-- or failed. `cells` are the hub cells it spends (JSON out points),
-- `outputs` the parties it pays (JSON [party, amount] pairs), `new_cells`
-- the hub cells it makes (JSON [out point, capacity] pairs), added to the
-- pool when it commits.
CREATE TABLE hub_payouts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    tx_hash BYTEA NOT NULL,
    tx BYTEA NOT NULL,
    total BIGINT NOT NULL,
    fee BIGINT NOT NULL,
    cells TEXT NOT NULL,
    outputs TEXT NOT NULL,
    new_cells TEXT NOT NULL,
    block_number BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX hub_payouts_state ON hub_payouts (kind, state, id);
-- One row per share of a complete payment (the seed's `account`):
-- unpaid while `payout_id` is NULL, in a payout while it is set and
-- `is_payed` is 0, paid (with the payout's `tx_hash`) once it commits.
CREATE TABLE hub_accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id BIGINT NOT NULL REFERENCES hub_payments(id),
    share_index BIGINT NOT NULL,
    receiver TEXT NOT NULL,
    role TEXT NOT NULL,
    amount BIGINT NOT NULL,
    is_payed INTEGER NOT NULL,
    payout_id BIGINT REFERENCES hub_payouts(id),
    tx_hash BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (payment_id, share_index)
);
CREATE INDEX hub_accounts_receiver ON hub_accounts (receiver, is_payed, payout_id, id);
CREATE INDEX hub_accounts_payout ON hub_accounts (payout_id);
