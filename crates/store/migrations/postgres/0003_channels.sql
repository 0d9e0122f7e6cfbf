-- Payment channels on the ledger rail (docs/channels.md). Ids, keys and
-- receipts are 0x + lowercase hex, as on the wire. Amounts, chain ids and
-- epochs (u64) are TEXT of decimal digits. Nonces (u64) are TEXT of exactly
-- 20 decimal digits, zero-padded and byte-ordered (COLLATE "C"), so that
-- comparing the text compares the numbers. Times are Unix ms; booleans 0/1;
-- integers BIGINT, so the one `Any` code path reads them all as i64.

CREATE TABLE channels (
    id TEXT PRIMARY KEY CHECK (length(id) = 66),
    user_id BIGINT NOT NULL REFERENCES users(id),
    asset TEXT NOT NULL,
    chain_id TEXT NOT NULL CHECK (chain_id <> '' AND chain_id !~ '[^0-9]'),
    epoch TEXT NOT NULL CHECK (epoch <> '' AND epoch !~ '[^0-9]'),
    collateral TEXT NOT NULL CHECK (collateral <> '' AND collateral !~ '[^0-9]'),
    open BIGINT NOT NULL CHECK (open IN (0, 1)),
    created_at BIGINT NOT NULL,
    closed_at BIGINT,
    refunded TEXT NOT NULL CHECK (refunded <> '' AND refunded !~ '[^0-9]')
);
CREATE INDEX channels_user ON channels(user_id, created_at);

-- One row per payer key of a channel: the latest accepted signed receipt
-- (158 bytes) with its nonce and total, what claims have paid for it, and
-- the latest proposal not yet signed (93 bytes) with its nonce.
CREATE TABLE sub_channels (
    channel_id TEXT NOT NULL REFERENCES channels(id),
    key_id TEXT NOT NULL CHECK (length(key_id) = 42),
    public_key TEXT NOT NULL CHECK (length(public_key) = 68),
    nonce TEXT COLLATE "C" NOT NULL CHECK (length(nonce) = 20 AND nonce !~ '[^0-9]'),
    accumulated TEXT NOT NULL CHECK (accumulated <> '' AND accumulated !~ '[^0-9]'),
    claimed TEXT NOT NULL CHECK (claimed <> '' AND claimed !~ '[^0-9]'),
    latest TEXT CHECK (length(latest) = 318),
    pending TEXT CHECK (length(pending) = 188),
    pending_nonce TEXT COLLATE "C" CHECK (length(pending_nonce) = 20 AND pending_nonce !~ '[^0-9]'),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, key_id),
    CHECK ((pending IS NULL) = (pending_nonce IS NULL))
);
