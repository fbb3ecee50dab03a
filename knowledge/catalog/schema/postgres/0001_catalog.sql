-- The index catalog shared by replicas (knowledge/catalog/protocol.py): every row says
-- which generation added it and which removed it, so a reader sees exactly one
-- generation while an index run writes the next. Tables are prefixed index_ to live
-- beside the bot's state in one database.
CREATE TABLE index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO index_meta (key, value) VALUES ('catalog_id', md5(random()::text || clock_timestamp()::text));

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
    id BIGSERIAL PRIMARY KEY,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    effective_date TEXT,
    sections TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    generation INTEGER NOT NULL
);
CREATE INDEX index_versions_path ON index_versions(path, id);
