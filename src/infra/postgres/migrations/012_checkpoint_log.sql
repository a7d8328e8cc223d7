-- Which event log a checkpoint's position belongs to: the store's kind ('postgres',
-- 'eventstoredb') and an identity of its log. A position is meaningless in another log, so a
-- projector refuses to resume from a checkpoint of another one. Rows written before this are NULL
-- here and taken to belong to the log that next writes them.
ALTER TABLE projection_checkpoints ADD COLUMN log_store text, ADD COLUMN log_id text;
