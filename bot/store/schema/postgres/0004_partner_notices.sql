-- Per-partner notices: each communication's recipient list (customers and their partner of
-- record), kept until the send date plus PARTNERBOT_RECIPIENTS_RETENTION_DAYS and then
-- deleted; and acknowledgements per partner. The notices themselves are outbox rows
-- (deliveries, feature 'comms-partner'), which hold counts, never customers.
CREATE TABLE comm_recipients (
    comm_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    partner_id TEXT NOT NULL,          -- '' when the partner of record is not known
    PRIMARY KEY (comm_id, customer_id)
);
CREATE INDEX comm_recipients_partner ON comm_recipients(comm_id, partner_id);
CREATE TABLE comm_partner_acks (
    comm_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    at TEXT NOT NULL,
    delivery_key TEXT NOT NULL,
    PRIMARY KEY (comm_id, partner_id, platform, user_id)
);
