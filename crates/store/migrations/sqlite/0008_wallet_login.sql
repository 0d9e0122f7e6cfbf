-- Wallet login (issue 14): a challenge is single-use (used_at set by a
-- compare-and-set) and short-lived; a wallet (its key id, a CKB lock's
-- args) belongs to one user; a session is an API key with an expiry.
CREATE TABLE login_challenges (
    nonce TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    text TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX login_challenges_expires ON login_challenges (expires_at);
CREATE TABLE wallets (
    key_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
