-- Whole answers paid from a channel are handed over only once paid
-- (issue 13): the answer waits here, keyed by the request's hash, until a
-- receipt brings the sub-channel's accepted total to `total`; then any
-- server process sharing the database returns it for the same request.
-- Kept `channels.held_answer_secs` after it was made, so an answer whose
-- response was lost can be fetched again.
CREATE TABLE held_answers (
    channel_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    total TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, key_id, request_hash)
);
CREATE INDEX held_answers_created ON held_answers (created_at);
