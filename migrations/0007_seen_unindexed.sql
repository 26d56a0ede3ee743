-- A device's `last_seen` is rewritten by checks (once per SEEN_GRANULARITY_S), and D1 bills
-- every index row an UPDATE touches: with this index each such write cost two rows. No index
-- holds `last_seen` any more, so a check that only refreshes it writes exactly one row. The
-- summary's seen-within counts and its latest devices read the project's rows instead (the
-- summary is kept per isolate for up to 60 s).
DROP INDEX IF EXISTS devices_project_last_seen;
