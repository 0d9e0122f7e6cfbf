-- Per-API-key limits and the AI gateway's per-request usage records.
-- Amounts are TEXT of decimal digits; times are Unix ms; booleans 0/1.

-- NULL means "no limit".
ALTER TABLE api_keys ADD COLUMN rpm_limit INTEGER CHECK (rpm_limit > 0);
ALTER TABLE api_keys ADD COLUMN tpm_limit INTEGER CHECK (tpm_limit > 0);
ALTER TABLE api_keys ADD COLUMN spend_cap TEXT CHECK (spend_cap <> '' AND spend_cap NOT GLOB '*[^0-9]*');

CREATE TABLE requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    key_id INTEGER REFERENCES api_keys(id),
    model TEXT NOT NULL,
    upstream TEXT NOT NULL,
    stream INTEGER NOT NULL CHECK (stream IN (0, 1)),
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    usage_source TEXT NOT NULL,
    status TEXT NOT NULL,
    cost TEXT NOT NULL CHECK (cost <> '' AND cost NOT GLOB '*[^0-9]*'),
    price_version INTEGER,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX requests_user ON requests(user_id, seq);
CREATE INDEX requests_key ON requests(key_id, seq);
CREATE INDEX requests_time ON requests(created_at);
