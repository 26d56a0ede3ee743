-- The daily data budget for JSON devices (issue 16): image bytes their module-OTA downloads
-- (`/ota/image/`, signed for the device) took today. One row per device that downloaded while
-- its project had a budget, rewritten only by a download; forgetting or moving the device removes it.
CREATE TABLE IF NOT EXISTS ota_bytes (
  project_key TEXT NOT NULL,
  device_id TEXT NOT NULL,
  day INTEGER NOT NULL,
  sent INTEGER NOT NULL,
  PRIMARY KEY (project_key, device_id)
) WITHOUT ROWID;
