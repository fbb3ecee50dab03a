-- The vendor's console (bot/serving/console): the people who sign in and their roles, their
-- sessions, the API's bearer tokens (only hashes are kept), idempotency keys of API calls,
-- the audit trail of every change, failed sign-ins (the rate limit every replica shares),
-- the console's signing key, knowledge gaps marked as answered, and index runs.
CREATE TABLE console_users (
    email TEXT PRIMARY KEY,            -- lower-case
    name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,                -- viewer | editor | admin
    password_hash TEXT,                -- argon2id; NULL: signs in with the identity provider
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,       -- sha256 of the token the cookie carries
    email TEXT NOT NULL,
    via TEXT NOT NULL,                 -- password | oidc
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX console_sessions_email ON console_sessions(email);
CREATE TABLE console_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,                -- the integration it is for
    token_hash TEXT NOT NULL UNIQUE,   -- sha256 of the token
    prefix TEXT NOT NULL,              -- its first characters, to tell tokens apart
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT,
    last_used_at TEXT
);
CREATE TABLE console_idempotency (
    token_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,           -- 0 while the first call is being handled
    response TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (token_id, key)
);
CREATE TABLE console_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,                 -- console:<email> | api:<token name>
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    before TEXT NOT NULL,              -- JSON, '' when there was nothing before
    after TEXT NOT NULL
);
CREATE INDEX console_audit_at ON console_audit(at);
CREATE TABLE console_signin_failures (
    key TEXT NOT NULL,                 -- email:<address> | addr:<client address>
    at TEXT NOT NULL
);
CREATE INDEX console_signin_failures_key ON console_signin_failures(key, at);
CREATE TABLE console_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE gap_marks (
    question_key TEXT PRIMARY KEY,     -- the question, case and spacing ignored
    doc_path TEXT NOT NULL,
    marked_by TEXT NOT NULL,
    marked_at TEXT NOT NULL
);
CREATE TABLE index_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    generation INTEGER,
    counts TEXT NOT NULL,              -- JSON: added, updated, removed, unchanged, failed
    failed TEXT NOT NULL,              -- JSON: [[path, reason], …]
    seconds REAL NOT NULL
);
-- Who read a reply (its audience's facts as JSON, '' when not known): gaps by partner and tier.
ALTER TABLE interactions ADD COLUMN audience TEXT NOT NULL DEFAULT '';
CREATE INDEX interactions_abstained ON interactions(abstained, at);
-- A communication from a file that was then changed in the console or through the API: who
-- changed it (the file is out of date and is not applied over it).
ALTER TABLE comms ADD COLUMN edited_by TEXT;
CREATE INDEX comms_send_at ON comms(send_at);
