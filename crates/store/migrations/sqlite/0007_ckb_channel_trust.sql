-- Channel trust on the CKB rail (issue 13). A CKB channel's local payment
-- deadline (docs/ckb.md, "Expiry without the node"): Unix ms from which its
-- receipts are refused, fixed at the offer (offer time + duration - settle
-- margin), so expiry does not fail open while the node is unreachable. NULL
-- for channels offered before this migration: only the chain's tip bounds
-- them.

ALTER TABLE ckb_channels ADD COLUMN pay_until INTEGER;

-- A CKB channel's latest commitment changes only while the channel is
-- active (receipts are taken only then): the same invariant as on
-- PostgreSQL, where a receipt racing a settlement needs it. SQLite runs one
-- write transaction at a time, so a receipt there sees the channel closed
-- first and this never fires in practice.
CREATE TRIGGER ckb_commitment_only_while_active BEFORE UPDATE OF latest_cumulative ON ckb_channels
    WHEN OLD.state <> 'active' AND NEW.latest_cumulative <> OLD.latest_cumulative
BEGIN
    SELECT RAISE(ABORT, 'a CKB channel''s latest commitment changes only while it is active');
END;
