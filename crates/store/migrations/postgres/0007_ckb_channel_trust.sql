-- Channel trust on the CKB rail (issue 13). A CKB channel's local payment
-- deadline (docs/ckb.md, "Expiry without the node"): Unix ms from which its
-- receipts are refused, fixed at the offer (offer time + duration - settle
-- margin), so expiry does not fail open while the node is unreachable. NULL
-- for channels offered before this migration: only the chain's tip bounds
-- them.

ALTER TABLE ckb_channels ADD COLUMN pay_until BIGINT;

-- A CKB channel's latest commitment changes only while the channel is
-- active (receipts are taken only then). A receipt whose statement read the
-- channel open just before a settlement closed it would otherwise keep its
-- commitment after the settlement was stored with the one before: here it
-- fails with a serialization failure, the writer retries it, and the retry
-- sees the channel closed. So no receipt is acknowledged that the
-- settlement does not pay (docs/ckb.md, "Settling against receipts").
CREATE FUNCTION ckb_commitment_only_while_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'CKB channel % is %: its latest commitment changes only while it is active', OLD.id, OLD.state
        USING ERRCODE = '40001';
END
$$;

CREATE TRIGGER ckb_commitment_only_while_active BEFORE UPDATE OF latest_cumulative ON ckb_channels
    FOR EACH ROW WHEN (OLD.state <> 'active' AND NEW.latest_cumulative IS DISTINCT FROM OLD.latest_cumulative)
    EXECUTE FUNCTION ckb_commitment_only_while_active();
