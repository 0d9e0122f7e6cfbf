-- CKB-backed payment channels (docs/ckb.md) and the log of background task
-- runs. A CKB channel keeps its `channels` row (asset CKB, amounts in
-- shannons, open = 1 only while active) and its one `sub_channels` row (the
-- buyer's key); the money is in a 2-of-2 multisig cell on chain, not in the
-- ledger, and this table holds the chain side. Keys, hashes, signatures and
-- transactions are 0x + lowercase hex (transactions and commitments are
-- molecule bytes); cells are out points `0x<tx hash>:<index>`; amounts and
-- block numbers (u64) are TEXT of decimal digits; the latest cumulative
-- payment is TEXT of exactly 20 decimal digits, zero-padded, so that
-- comparing the text compares the numbers. Times are Unix ms; booleans 0/1.

CREATE TABLE ckb_channels (
    id TEXT PRIMARY KEY REFERENCES channels(id) CHECK (length(id) = 66),
    state TEXT NOT NULL CHECK (state IN ('proposed', 'refund_signed', 'funding', 'active', 'expired', 'settling',
        'settling_after_expiry', 'settled', 'refunding', 'refunded', 'abandoned')),
    seller_key TEXT NOT NULL CHECK (length(seller_key) = 68),
    buyer_deposit TEXT NOT NULL CHECK (buyer_deposit <> '' AND buyer_deposit NOT GLOB '*[^0-9]*'),
    seller_cofund TEXT NOT NULL CHECK (seller_cofund <> '' AND seller_cofund NOT GLOB '*[^0-9]*'),
    fee TEXT NOT NULL CHECK (fee <> '' AND fee NOT GLOB '*[^0-9]*'),
    expiry_block TEXT NOT NULL CHECK (expiry_block <> '' AND expiry_block NOT GLOB '*[^0-9]*'),
    -- JSON array of out point strings: the seller's co-funding cells.
    seller_cells TEXT NOT NULL,
    funding_tx TEXT CHECK (funding_tx GLOB '0x*' AND length(funding_tx) % 2 = 0 AND substr(funding_tx, 3) NOT GLOB '*[^0-9a-f]*'),
    funding_tx_hash TEXT CHECK (length(funding_tx_hash) = 66),
    cell TEXT CHECK (cell GLOB '0x*' AND length(cell) > 67 AND substr(cell, 67, 1) = ':'
        AND substr(cell, 3, 64) NOT GLOB '*[^0-9a-fA-F]*' AND substr(cell, 68) NOT GLOB '*[^0-9]*'),
    refund_seller_signature TEXT CHECK (length(refund_seller_signature) = 132),
    latest_cumulative TEXT NOT NULL CHECK (length(latest_cumulative) = 20 AND latest_cumulative NOT GLOB '*[^0-9]*'),
    latest_commitment TEXT CHECK (latest_commitment GLOB '0x*' AND length(latest_commitment) % 2 = 0 AND substr(latest_commitment, 3) NOT GLOB '*[^0-9a-f]*'),
    closing_tx TEXT CHECK (closing_tx GLOB '0x*' AND length(closing_tx) % 2 = 0 AND substr(closing_tx, 3) NOT GLOB '*[^0-9a-f]*'),
    closing_tx_hash TEXT CHECK (length(closing_tx_hash) = 66),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- The seller's checked funding is stored all at once.
    CHECK ((funding_tx IS NULL) = (funding_tx_hash IS NULL)
        AND (funding_tx IS NULL) = (cell IS NULL)
        AND (funding_tx IS NULL) = (refund_seller_signature IS NULL)),
    CHECK ((closing_tx IS NULL) = (closing_tx_hash IS NULL))
);
CREATE INDEX ckb_channels_state ON ckb_channels(state);

-- One row per run of a background task (settle, refund, auto-settle, …):
-- when it started and finished, whether it succeeded, and what it did or
-- why it failed.
CREATE TABLE task_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    detail TEXT NOT NULL
);
CREATE INDEX task_runs_task ON task_runs(task, started_at);
