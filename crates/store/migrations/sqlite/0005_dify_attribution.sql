-- Dify attribution (issue 12). Apps say where their reports name the user
-- (`field:<dotted path>` or `header:<name>`) and the model (`field:<path>`
-- or `fixed:<name>`); NULL means the built-in places. A usage event whose
-- user is unknown or disabled is kept as `unattributed` (nothing charged,
-- user_id NULL when unknown) until an admin resolves it to a user
-- (`resolving`, then `charged` / `arrears` / `usage_unknown`) or dismisses
-- it (`dismissed`, with the reason). `user_ref` is the user as reported.
-- SQLite cannot drop NOT NULL in place, so usage_events is rebuilt with
-- the same rows and positions.

ALTER TABLE apps ADD COLUMN user_source TEXT;
ALTER TABLE apps ADD COLUMN model_source TEXT;

CREATE TABLE usage_events_v5 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    user_id INTEGER REFERENCES users(id),
    user_ref TEXT,
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
    resolved_by INTEGER,
    resolved_at INTEGER,
    resolution TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (app_id, message_id),
    CHECK (user_id IS NOT NULL OR status IN ('unattributed', 'dismissed'))
);
INSERT INTO usage_events_v5 (seq, app_id, message_id, fingerprint, user_id, model, input_tokens, output_tokens,
    usage_source, status, cost, charged, shortfall, balance_after, price_version, input_per_1k, output_per_1k,
    transfer_id, reservation_id, reported_price, reported_currency, conversation_id, created_at)
SELECT seq, app_id, message_id, fingerprint, user_id, model, input_tokens, output_tokens,
    usage_source, status, cost, charged, shortfall, balance_after, price_version, input_per_1k, output_per_1k,
    transfer_id, reservation_id, reported_price, reported_currency, conversation_id, created_at
FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_v5 RENAME TO usage_events;
CREATE INDEX usage_events_time ON usage_events(created_at);
CREATE INDEX usage_events_status ON usage_events(status, seq);
