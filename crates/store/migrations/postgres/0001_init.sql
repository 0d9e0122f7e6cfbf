-- Tollway schema (PostgreSQL). Amounts are TEXT of decimal digits: exact u128,
-- never negative (the CHECKs refuse anything but digits). Times are Unix ms.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    asset TEXT NOT NULL,
    flags BIGINT NOT NULL,
    debits_pending TEXT NOT NULL CHECK (debits_pending <> '' AND debits_pending !~ '[^0-9]'),
    debits_posted TEXT NOT NULL CHECK (debits_posted <> '' AND debits_posted !~ '[^0-9]'),
    credits_pending TEXT NOT NULL CHECK (credits_pending <> '' AND credits_pending !~ '[^0-9]'),
    credits_posted TEXT NOT NULL CHECK (credits_posted <> '' AND credits_posted !~ '[^0-9]')
);

CREATE TABLE transfers (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    debit TEXT NOT NULL REFERENCES accounts(id),
    credit TEXT NOT NULL REFERENCES accounts(id),
    amount TEXT NOT NULL CHECK (amount <> '' AND amount !~ '[^0-9]'),
    asset TEXT NOT NULL,
    kind TEXT NOT NULL,
    pending_id TEXT,
    timeout_secs BIGINT,
    expires_at BIGINT,
    requested TEXT,
    status TEXT,
    reason TEXT NOT NULL,
    user_id BIGINT,
    model TEXT,
    request_id TEXT,
    price_version BIGINT,
    memo TEXT,
    ts BIGINT NOT NULL
);
-- A hold is resolved (posted, voided or expired) exactly once.
CREATE UNIQUE INDEX transfers_one_resolution ON transfers(pending_id) WHERE pending_id IS NOT NULL;
CREATE INDEX transfers_user ON transfers(user_id, seq);
CREATE INDEX transfers_open_holds ON transfers(expires_at) WHERE status = 'pending';

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE apps (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,
    signing_secret TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE price_rules (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    asset TEXT NOT NULL,
    input_per_1k TEXT NOT NULL,
    output_per_1k TEXT NOT NULL,
    effective_from BIGINT NOT NULL,
    active BIGINT NOT NULL,
    note TEXT NOT NULL,
    changed_by BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (model, version)
);

CREATE TABLE usage_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    usage_source TEXT NOT NULL,
    status TEXT NOT NULL,
    cost TEXT NOT NULL,
    charged TEXT NOT NULL,
    shortfall TEXT NOT NULL,
    balance_after TEXT NOT NULL,
    price_version BIGINT,
    input_per_1k TEXT,
    output_per_1k TEXT,
    transfer_id TEXT,
    reservation_id TEXT,
    reported_price TEXT,
    reported_currency TEXT,
    conversation_id TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (app_id, message_id)
);
CREATE INDEX usage_events_time ON usage_events(created_at);
CREATE INDEX usage_events_status ON usage_events(status, seq);
