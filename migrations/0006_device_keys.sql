-- JSON device secrets are shown once and revocable per device (fota_shared::device_auth).
-- key_generation: mixed into the device's secret; a new one is issued at provisioning, re-key and
-- provisioning after a de-provision (max(now_ms, previous + 1)), and only the current one verifies.
-- Kept when a device is de-provisioned, so provisioning it again never brings an old secret back.
-- key_master_version: the DEVICE_MASTER_KEYS version the secret was derived from; the device
-- verifies under that version only.
ALTER TABLE devices ADD COLUMN key_generation INTEGER;
ALTER TABLE devices ADD COLUMN key_master_version INTEGER;

-- Devices provisioned before: generation 0 (the derivation without a generation, so their secrets
-- keep working); their master version is unknown and recorded at their next verified request.
UPDATE devices SET key_generation = 0 WHERE provisioned_at IS NOT NULL;
