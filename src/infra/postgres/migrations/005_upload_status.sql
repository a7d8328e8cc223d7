-- The latest upload outcome of each instance, as the media-upload worker last saw it, so that
-- GET /api/instance/s3/:instance shows a broken bucket without anyone reading server logs. Kept
-- apart from instance_s3_config: that table is rebuilt from the event log by `stowage replay`,
-- while these facts are not in the log.
CREATE TABLE instance_upload_status (
  instance_name text PRIMARY KEY,
  last_upload_at timestamptz,
  last_upload_key text,
  last_error_at timestamptz,
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
