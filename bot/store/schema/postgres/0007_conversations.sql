-- Where a platform posts without being asked: Microsoft Teams needs a stored conversation
-- reference (conversation id and service URL) for each channel, chat and person it posts
-- to. `place` is how the core names it (a channel id, "@<user>" for a person's own chat);
-- removed_at: the bot was taken out (posts are skipped until it is added back).
CREATE TABLE conversation_refs (
    platform TEXT NOT NULL,
    place TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    service_url TEXT NOT NULL,
    kind TEXT NOT NULL,
    tenant TEXT NOT NULL,
    team TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    removed_at TEXT,
    PRIMARY KEY (platform, place)
);
CREATE INDEX conversation_refs_team ON conversation_refs(platform, team);
-- What was posted under each delivery key, recorded as soon as the platform answers: a
-- platform that cannot look a message up by the key carried in it (Teams) reconciles
-- from here (bot/delivery.py).
CREATE TABLE posted_messages (
    platform TEXT NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    posted_at TEXT NOT NULL,
    PRIMARY KEY (platform, key)
);
-- The conversation so far in one place, for a platform that cannot read it back (Teams).
CREATE INDEX interactions_place ON interactions(platform, place, id);
