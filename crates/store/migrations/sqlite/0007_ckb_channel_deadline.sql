-- A CKB channel's local payment deadline (docs/ckb.md, "Expiry without the
-- node"): Unix ms from which its receipts are refused, fixed at the offer
-- (offer time + duration - settle margin), so expiry does not fail open
-- while the node is unreachable. NULL for channels offered before this
-- migration: only the chain's tip bounds them.

ALTER TABLE ckb_channels ADD COLUMN pay_until INTEGER;
