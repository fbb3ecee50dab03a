-- Threads the bot takes part in (it answers follow-ups there even when it cannot read the
-- thread back), and what an "Ask about this" thread is about: its topic, as data
-- ("comms:<id>"), never recognised from the bot's wording.
CREATE TABLE chat_threads (
    key TEXT PRIMARY KEY,              -- platform:team:channel:thread
    topic TEXT,                        -- NULL: a thread the bot answered in, about nothing set
    at TEXT NOT NULL
);
