-- One outbox for every feature that posts (communication notices and change digests);
-- user columns renamed user_id (a reserved word in PostgreSQL).
ALTER TABLE feedback RENAME COLUMN user TO user_id;
ALTER TABLE comm_acks RENAME COLUMN user TO user_id;

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,          -- carried in the posted message (reconciliation)
    feature TEXT NOT NULL,             -- comms | changes
    subject TEXT NOT NULL,             -- communication id | digest publication
    revision INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL,
    lead_days INTEGER,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    due_at TEXT NOT NULL,
    status TEXT NOT NULL,
    not_before TEXT,
    claimed_by TEXT,
    claimed_until TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    posted_at TEXT,
    late INTEGER NOT NULL DEFAULT 0,
    reconciled INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '{}',
    note TEXT,
    created_at TEXT NOT NULL
);
-- Ids are kept: posted notices carry them in their buttons.
INSERT INTO deliveries(id, key, feature, subject, revision, kind, lead_days, platform, channel,
    due_at, status, not_before, claimed_by, claimed_until, attempts, message_id, posted_at,
    late, reconciled, detail, note, created_at)
SELECT id, key, 'comms', comm_id, revision, kind, lead_days, platform, channel, due_at, status,
    not_before, claimed_by, claimed_until, attempts, message_id, posted_at, late, reconciled,
    detail, note, created_at
FROM comm_deliveries;
INSERT INTO deliveries(key, feature, subject, kind, platform, channel, due_at, status,
    attempts, message_id, posted_at, created_at)
SELECT key, 'changes', key, 'digest', substr(channel, 1, instr(channel, ':') - 1),
    substr(channel, instr(channel, ':') + 1), at, 'posted', 1, message_id, at, at
FROM program_change_deliveries;
DROP TABLE comm_deliveries;
DROP TABLE program_change_deliveries;
CREATE INDEX deliveries_due ON deliveries(feature, status, due_at);
CREATE INDEX deliveries_subject ON deliveries(feature, subject, platform, channel);
