-- One row per send: SES's MessageId, or refused-<random> for a send SES never took. The
-- address is kept only as its keyed hash (hex HMAC-SHA256 of the lower-cased address) and
-- masked. Times are microseconds since 1970, UTC.
CREATE TABLE deliverylog_messages (
	id           TEXT PRIMARY KEY,
	address_hash TEXT NOT NULL,
	masked       TEXT NOT NULL,
	usage_type   TEXT NOT NULL,
	locale       TEXT NOT NULL,
	template     TEXT NOT NULL,
	region       TEXT NOT NULL,
	outcome      TEXT NOT NULL,
	error        TEXT NOT NULL,
	at           BIGINT NOT NULL
);
CREATE INDEX deliverylog_messages_address ON deliverylog_messages (address_hash, at);
CREATE INDEX deliverylog_messages_at ON deliverylog_messages (at);

-- SES's events by MessageId; a redelivered event has the same key and is stored once.
CREATE TABLE deliverylog_events (
	message_id     TEXT NOT NULL,
	type           TEXT NOT NULL,
	at             BIGINT NOT NULL,
	bounce_type    TEXT NOT NULL,
	bounce_subtype TEXT NOT NULL,
	diagnostic     TEXT NOT NULL,
	PRIMARY KEY (message_id, type, at)
);
CREATE INDEX deliverylog_events_at ON deliverylog_events (at);
