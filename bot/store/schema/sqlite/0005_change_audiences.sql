-- Audiences (knowledge/audience.py): who may be told of a program change — readers of
-- both versions of its document. '' is everyone: changes recorded before stay public.
ALTER TABLE program_changes ADD COLUMN audience TEXT NOT NULL DEFAULT '';
