-- The event behind a version (vigil.Cause as JSON), NULL for a change a
-- scan found; its actor's ARN is in the actor column.
ALTER TABLE resource_versions ADD COLUMN cause TEXT;

-- Changes lists versions newest first, with ties in this order.
CREATE INDEX resource_versions_observed_at ON resource_versions (observed_at DESC, uid, seq DESC);
-- Changes by actor: the actor filter is a substring match, which no index
-- answers, but only versions caused by an event have an actor, and this
-- partial index holds just those.
CREATE INDEX resource_versions_actor ON resource_versions (actor) WHERE actor != '';
