-- The manifest as it was before generations (partnerbot up to November 2026). A fresh
-- catalog passes through it too; 0002 moves its rows into the generation tables.
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    effective_date TEXT,
    url TEXT,
    kind TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    doc_path TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    effective_date TEXT,
    url TEXT,
    kind TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    effective_date TEXT,
    sections TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_writes (path TEXT PRIMARY KEY, since TEXT NOT NULL);
