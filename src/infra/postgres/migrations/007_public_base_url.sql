-- Where an instance's media are publicly readable, as configured (empty: not set). Existing rows
-- come from events written before the field existed, so empty is what a replay gives them too.
ALTER TABLE instance_s3_config ADD COLUMN public_base_url text NOT NULL DEFAULT '';
