-- The hub's tracker looks a payment up by its transaction: a chained
-- payment's parent (docs/hub.md, "How a payment goes").
CREATE INDEX hub_payments_tx_hash ON hub_payments (tx_hash);
-- A prepare refuses a sender cell a committed payment spent, open or not.
CREATE INDEX hub_sender_cells_out_point ON hub_sender_cells (out_point);
