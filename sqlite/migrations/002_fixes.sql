-- The audit trail of Fix Now and Always Fix: every plan, apply,
-- verification, skip and undo.
CREATE TABLE fixes (
	id            TEXT PRIMARY KEY,
	at            TEXT NOT NULL,
	actor         TEXT NOT NULL,
	mode          TEXT NOT NULL,
	check_id      TEXT NOT NULL,
	resource_uid  TEXT NOT NULL,
	resource_type TEXT NOT NULL,
	provider      TEXT NOT NULL,
	account       TEXT NOT NULL,
	region        TEXT NOT NULL,
	action        TEXT NOT NULL,
	status        TEXT NOT NULL,
	reason        TEXT NOT NULL,
	plan          TEXT NOT NULL DEFAULT 'null',
	calls         TEXT NOT NULL DEFAULT 'null',
	before        TEXT NOT NULL DEFAULT 'null',
	after         TEXT NOT NULL DEFAULT 'null',
	undo_of       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX fixes_at ON fixes (at);
-- Flapping and rate guards count recent fixes per finding.
CREATE INDEX fixes_finding_at ON fixes (check_id, resource_uid, at);
