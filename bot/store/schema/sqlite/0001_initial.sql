-- The state as partnerbot kept it before versioned migrations (IF NOT EXISTS: a database
-- made then is adopted as version 1, with its data).
CREATE TABLE IF NOT EXISTS interactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    platform TEXT NOT NULL,
    asker TEXT NOT NULL,
    place TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    confidence REAL NOT NULL,
    sources TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS interactions_at ON interactions(at);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    interaction_id INTEGER,
    platform TEXT NOT NULL,
    user TEXT NOT NULL,
    rating INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL,
    UNIQUE(interaction_id, user)
);
CREATE TABLE IF NOT EXISTS processed_events (
    key TEXT PRIMARY KEY,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_events_at ON processed_events(at);
CREATE TABLE IF NOT EXISTS comms (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    data TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    send_at TEXT NOT NULL,
    status TEXT NOT NULL,
    revision INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    source TEXT,
    file_hash TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    registered_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS comm_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    comm_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    lead_days INTEGER,
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
CREATE INDEX IF NOT EXISTS comm_deliveries_due ON comm_deliveries(status, due_at);
CREATE INDEX IF NOT EXISTS comm_deliveries_comm ON comm_deliveries(comm_id, platform, channel);
CREATE TABLE IF NOT EXISTS comm_acks (
    comm_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    user TEXT NOT NULL,
    at TEXT NOT NULL,
    delivery_key TEXT NOT NULL,
    PRIMARY KEY (comm_id, platform, channel, user)
);
CREATE TABLE IF NOT EXISTS comm_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    comm_id TEXT NOT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    who TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS program_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    detected_at TEXT NOT NULL,
    doc_path TEXT NOT NULL,
    doc_title TEXT NOT NULL,
    section TEXT NOT NULL,
    kind TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL,
    edits TEXT NOT NULL,
    effective_date TEXT,
    published_at TEXT,
    digest_key TEXT
);
CREATE INDEX IF NOT EXISTS program_changes_detected ON program_changes(detected_at);
CREATE INDEX IF NOT EXISTS program_changes_doc ON program_changes(doc_path);
CREATE TABLE IF NOT EXISTS program_change_deliveries (
    key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    at TEXT NOT NULL
);
