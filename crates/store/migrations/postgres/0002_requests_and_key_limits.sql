-- Per-API-key limits and the AI gateway's per-request usage records.
-- Amounts are TEXT of decimal digits; times are Unix ms; booleans 0/1.

-- NULL means "no limit". Integers are BIGINT, as everywhere in this schema,
-- so the one `Any` code path reads them all as i64.
ALTER TABLE api_keys
    ADD COLUMN rpm_limit BIGINT CHECK (rpm_limit > 0),
    ADD COLUMN tpm_limit BIGINT CHECK (tpm_limit > 0),
    ADD COLUMN spend_cap TEXT CHECK (spend_cap <> '' AND spend_cap !~ '[^0-9]');

CREATE TABLE requests (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    key_id BIGINT REFERENCES api_keys(id),
    model TEXT NOT NULL,
    upstream TEXT NOT NULL,
    stream BIGINT NOT NULL CHECK (stream IN (0, 1)),
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    usage_source TEXT NOT NULL,
    status TEXT NOT NULL,
    cost TEXT NOT NULL CHECK (cost <> '' AND cost !~ '[^0-9]'),
    price_version BIGINT,
    started_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX requests_user ON requests(user_id, seq);
CREATE INDEX requests_key ON requests(key_id, seq);
CREATE INDEX requests_time ON requests(created_at);
