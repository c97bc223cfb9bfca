-- Times are RFC 3339 UTC text with nine fractional digits, so that text order
-- is time order. JSON documents are text.

CREATE TABLE accounts (
	provider TEXT NOT NULL,
	id       TEXT NOT NULL,
	name     TEXT NOT NULL DEFAULT '',
	profile  TEXT NOT NULL DEFAULT '',
	role_arn TEXT NOT NULL DEFAULT '',
	regions  TEXT NOT NULL DEFAULT 'null',
	labels   TEXT NOT NULL DEFAULT 'null',
	PRIMARY KEY (provider, id)
);

CREATE TABLE scans (
	id          TEXT PRIMARY KEY,
	started_at  TEXT NOT NULL,
	finished_at TEXT,
	status      TEXT NOT NULL,
	accounts    TEXT NOT NULL DEFAULT 'null',
	stats       TEXT NOT NULL DEFAULT '{}',
	read_errors TEXT NOT NULL DEFAULT 'null',
	error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX scans_started_at ON scans (started_at);

CREATE TABLE resources (
	uid          TEXT PRIMARY KEY,
	provider     TEXT NOT NULL,
	account      TEXT NOT NULL,
	region       TEXT NOT NULL,
	type         TEXT NOT NULL,
	name         TEXT NOT NULL,
	tags         TEXT NOT NULL,
	properties   TEXT NOT NULL,
	read_errors  TEXT NOT NULL,
	hash         TEXT NOT NULL,
	collected_at TEXT NOT NULL,
	first_seen   TEXT NOT NULL,
	last_seen    TEXT NOT NULL,
	last_scan_id TEXT NOT NULL,
	deleted_at   TEXT
);
-- Sweep and the account filters.
CREATE INDEX resources_account_type_region ON resources (account, type, region);
-- Listing by type, ordered by uid.
CREATE INDEX resources_type_uid ON resources (type, uid);

CREATE TABLE resource_versions (
	uid         TEXT NOT NULL REFERENCES resources (uid) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	hash        TEXT NOT NULL,
	observed_at TEXT NOT NULL,
	scan_id     TEXT NOT NULL,
	actor       TEXT NOT NULL DEFAULT '',
	deleted     INTEGER NOT NULL DEFAULT 0,
	resource    TEXT NOT NULL,
	diff        TEXT NOT NULL DEFAULT 'null',
	PRIMARY KEY (uid, seq)
);

CREATE TABLE results (
	check_id      TEXT NOT NULL,
	resource_uid  TEXT NOT NULL,
	resource_type TEXT NOT NULL,
	provider      TEXT NOT NULL,
	account       TEXT NOT NULL,
	region        TEXT NOT NULL,
	severity      TEXT NOT NULL,
	status        TEXT NOT NULL,
	reason        TEXT NOT NULL,
	first_seen    TEXT NOT NULL,
	status_since  TEXT NOT NULL,
	last_seen     TEXT NOT NULL,
	resolved_at   TEXT,
	scan_id       TEXT NOT NULL,
	PRIMARY KEY (check_id, resource_uid)
);
-- Sweep resolves a deleted resource's results.
CREATE INDEX results_resource_uid ON results (resource_uid);
-- ResolveStale and the account filter.
CREATE INDEX results_account_type_region ON results (account, resource_type, region);
CREATE INDEX results_scan_id ON results (scan_id);
