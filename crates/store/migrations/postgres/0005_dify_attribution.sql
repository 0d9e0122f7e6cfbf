-- Dify attribution (issue 12). Apps say where their reports name the user
-- (`field:<dotted path>` or `header:<name>`) and the model (`field:<path>`
-- or `fixed:<name>`); NULL means the built-in places. A usage event whose
-- user is unknown or disabled is kept as `unattributed` (nothing charged,
-- user_id NULL when unknown) until an admin resolves it to a user
-- (`resolving`, then `charged` / `arrears` / `usage_unknown`) or dismisses
-- it (`dismissed`, with the reason). `user_ref` is the user as reported.

ALTER TABLE apps ADD COLUMN user_source TEXT, ADD COLUMN model_source TEXT;

ALTER TABLE usage_events
    ALTER COLUMN user_id DROP NOT NULL,
    ADD COLUMN user_ref TEXT,
    ADD COLUMN resolved_by BIGINT,
    ADD COLUMN resolved_at BIGINT,
    ADD COLUMN resolution TEXT,
    ADD CONSTRAINT usage_events_attributed CHECK (user_id IS NOT NULL OR status IN ('unattributed', 'dismissed'));
