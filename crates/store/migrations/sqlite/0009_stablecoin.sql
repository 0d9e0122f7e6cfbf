-- Stablecoin checkout (issue 15, docs/stablecoin.md). `networks` and
-- `tokens` are what the API lists (written from the configuration at
-- start). A payment session holds its unique amount while `reserved` is 1:
-- the partial unique index makes two open sessions of one network and token
-- never ask for the same amount. `evm_transfers` is every Transfer to a
-- deposit address, keyed as the chain keys it; `session_id` NULL is an
-- unmatched transfer for an admin. The cursor (last block read, and its
-- hash) moves in the same transaction as the transfers read; checkpoints
-- are the hashes of recent cursor positions, for finding a reorg's fork.
CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    chain_id BIGINT NOT NULL,
    rpc_url TEXT NOT NULL,
    rpc_urls TEXT NOT NULL,
    websocket_url TEXT,
    deposit_address TEXT NOT NULL,
    confirmations BIGINT NOT NULL,
    is_active INTEGER NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE tokens (
    network_id TEXT NOT NULL REFERENCES networks(id),
    symbol TEXT NOT NULL,
    name TEXT NOT NULL,
    contract_address TEXT NOT NULL,
    decimals INTEGER NOT NULL,
    is_active INTEGER NOT NULL,
    PRIMARY KEY (network_id, symbol)
);
CREATE TABLE payment_sessions (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL REFERENCES networks(id),
    chain_id BIGINT NOT NULL,
    token_symbol TEXT NOT NULL,
    token_address TEXT NOT NULL,
    decimals INTEGER NOT NULL,
    deposit_address TEXT NOT NULL,
    product_id TEXT,
    description TEXT NOT NULL,
    requested_units TEXT NOT NULL,
    amount_units TEXT NOT NULL,
    reserved INTEGER NOT NULL,
    release_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    exception TEXT,
    seen_units TEXT NOT NULL,
    confirmed_units TEXT NOT NULL,
    late INTEGER NOT NULL,
    user_id BIGINT REFERENCES users(id),
    points TEXT,
    webhook_url TEXT,
    metadata TEXT NOT NULL,
    confirmations_required BIGINT NOT NULL,
    creator TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    paid_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX payment_sessions_open_amount ON payment_sessions (network_id, token_address, amount_units) WHERE reserved = 1;
CREATE INDEX payment_sessions_status ON payment_sessions (status, expires_at);
CREATE INDEX payment_sessions_release ON payment_sessions (reserved, release_at);
CREATE INDEX payment_sessions_creator ON payment_sessions (creator, created_at);
CREATE TABLE evm_transfers (
    chain_id BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    network_id TEXT NOT NULL,
    token_address TEXT NOT NULL,
    from_address TEXT NOT NULL,
    to_address TEXT NOT NULL,
    value_units TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    block_time BIGINT NOT NULL,
    state TEXT NOT NULL,
    session_id TEXT REFERENCES payment_sessions(id),
    found_by TEXT NOT NULL,
    found_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX evm_transfers_session ON evm_transfers (session_id);
CREATE INDEX evm_transfers_state ON evm_transfers (network_id, state, block_number);
CREATE TABLE evm_cursors (
    network_id TEXT PRIMARY KEY,
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE evm_checkpoints (
    network_id TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    PRIMARY KEY (network_id, block_number)
);
-- Merchant webhooks: written in the transaction that changes the session
-- (an outbox), sent by a job with retries, redeliverable by an admin.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES payment_sessions(id),
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
