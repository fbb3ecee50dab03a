-- Audiences (knowledge/audience.py): who may read a document, stored with the document,
-- each of its chunks (retrieval filters by it) and each recorded version (what changed
-- is shown only to those who could read both versions). '' is everyone: every row
-- indexed before audiences stays public, as it was.
ALTER TABLE index_documents ADD COLUMN audience TEXT NOT NULL DEFAULT '';
ALTER TABLE index_chunks ADD COLUMN audience TEXT NOT NULL DEFAULT '';
ALTER TABLE index_versions ADD COLUMN audience TEXT NOT NULL DEFAULT '';
