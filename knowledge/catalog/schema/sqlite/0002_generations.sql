-- Generations: every row says which generation added it and which removed it, so a
-- reader sees exactly one generation while an index run writes the next.
CREATE TABLE index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO index_meta (key, value) VALUES ('catalog_id', lower(hex(randomblob(16))));

CREATE TABLE index_generations (
    number INTEGER PRIMARY KEY,
    status TEXT NOT NULL,            -- building | live | retired
    collection TEXT NOT NULL,        -- the Chroma collection holding its vectors
    embedder TEXT NOT NULL,
    dimension INTEGER NOT NULL,
    glossary TEXT NOT NULL DEFAULT '',
    rebuild INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    switched_at TEXT,
    retired_at TEXT
);
CREATE TABLE index_documents (
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    effective_date TEXT,
    url TEXT,
    kind TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    indexed_at TEXT NOT NULL,
    added_gen INTEGER NOT NULL,
    removed_gen INTEGER,
    PRIMARY KEY (path, added_gen)
);
CREATE INDEX index_documents_source ON index_documents(source, removed_gen);
CREATE TABLE index_chunks (
    id TEXT PRIMARY KEY,
    doc_path TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    effective_date TEXT,
    url TEXT,
    kind TEXT NOT NULL,
    added_gen INTEGER NOT NULL,
    removed_gen INTEGER,
    written INTEGER NOT NULL DEFAULT 0  -- 0: added, its document not committed yet
);
CREATE INDEX index_chunks_doc ON index_chunks(doc_path);
CREATE INDEX index_chunks_added ON index_chunks(added_gen);
CREATE INDEX index_chunks_removed ON index_chunks(removed_gen);
CREATE TABLE index_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    effective_date TEXT,
    sections TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    generation INTEGER NOT NULL
);
CREATE INDEX index_versions_path ON index_versions(path, id);

-- An index made before generations becomes generation 1, live, in its collection
-- "partnerbot" (its embedder is read from Chroma). Documents a killed run had left
-- half-written are dropped from it, so the next run indexes them again.
DELETE FROM chunks WHERE doc_path IN (SELECT path FROM pending_writes);
DELETE FROM documents WHERE path IN (SELECT path FROM pending_writes);
INSERT INTO index_generations (number, status, collection, embedder, dimension, glossary,
    rebuild, started_at, switched_at)
SELECT 1, 'live', 'partnerbot', '', 0,
    COALESCE((SELECT value FROM meta WHERE key = 'glossary'), ''), 0,
    strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
WHERE EXISTS (SELECT 1 FROM documents);
INSERT INTO index_documents SELECT path, source, content_hash, file_hash, title,
    effective_date, url, kind, chunk_count, indexed_at, 1, NULL FROM documents;
INSERT INTO index_chunks SELECT id, doc_path, ordinal, title, section, text, effective_date,
    url, kind, 1, NULL, 1 FROM chunks;
INSERT INTO index_versions (path, content_hash, title, effective_date, sections, recorded_at,
    generation)
SELECT path, content_hash, title, effective_date, sections, recorded_at, 1 FROM versions
ORDER BY rowid;
DROP TABLE documents;
DROP TABLE chunks;
DROP TABLE versions;
DROP TABLE meta;
DROP TABLE pending_writes;
