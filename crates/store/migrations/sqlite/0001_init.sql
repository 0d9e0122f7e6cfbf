-- Tollway schema (SQLite). Amounts are TEXT of decimal digits: exact u128,
-- never negative (the CHECKs refuse anything but digits). Times are Unix ms.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    asset TEXT NOT NULL,
    flags INTEGER NOT NULL,
    debits_pending TEXT NOT NULL CHECK (debits_pending <> '' AND debits_pending NOT GLOB '*[^0-9]*'),
    debits_posted TEXT NOT NULL CHECK (debits_posted <> '' AND debits_posted NOT GLOB '*[^0-9]*'),
    credits_pending TEXT NOT NULL CHECK (credits_pending <> '' AND credits_pending NOT GLOB '*[^0-9]*'),
    credits_posted TEXT NOT NULL CHECK (credits_posted <> '' AND credits_posted NOT GLOB '*[^0-9]*')
);

CREATE TABLE transfers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    debit TEXT NOT NULL REFERENCES accounts(id),
    credit TEXT NOT NULL REFERENCES accounts(id),
    amount TEXT NOT NULL CHECK (amount <> '' AND amount NOT GLOB '*[^0-9]*'),
    asset TEXT NOT NULL,
    kind TEXT NOT NULL,
    pending_id TEXT,
    timeout_secs INTEGER,
    expires_at INTEGER,
    requested TEXT,
    status TEXT,
    reason TEXT NOT NULL,
    user_id INTEGER,
    model TEXT,
    request_id TEXT,
    price_version INTEGER,
    memo TEXT,
    ts INTEGER NOT NULL
);
-- A hold is resolved (posted, voided or expired) exactly once.
CREATE UNIQUE INDEX transfers_one_resolution ON transfers(pending_id) WHERE pending_id IS NOT NULL;
CREATE INDEX transfers_user ON transfers(user_id, seq);
CREATE INDEX transfers_open_holds ON transfers(expires_at) WHERE status = 'pending';

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE apps (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,
    signing_secret TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE price_rules (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    asset TEXT NOT NULL,
    input_per_1k TEXT NOT NULL,
    output_per_1k TEXT NOT NULL,
    effective_from INTEGER NOT NULL,
    active INTEGER NOT NULL,
    note TEXT NOT NULL,
    changed_by INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (model, version)
);

CREATE TABLE usage_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    usage_source TEXT NOT NULL,
    status TEXT NOT NULL,
    cost TEXT NOT NULL,
    charged TEXT NOT NULL,
    shortfall TEXT NOT NULL,
    balance_after TEXT NOT NULL,
    price_version INTEGER,
    input_per_1k TEXT,
    output_per_1k TEXT,
    transfer_id TEXT,
    reservation_id TEXT,
    reported_price TEXT,
    reported_currency TEXT,
    conversation_id TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (app_id, message_id)
);
CREATE INDEX usage_events_time ON usage_events(created_at);
CREATE INDEX usage_events_status ON usage_events(status, seq);
