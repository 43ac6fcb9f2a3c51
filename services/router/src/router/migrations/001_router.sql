-- The router owns what it needs to route and re-route: each case's details, the units that
-- rejected it, and the ids of the events it has already handled.
CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cases (
    case_id        uuid PRIMARY KEY,
    correlation_id text,
    details        jsonb,            -- null while only a rejection is known (out of order)
    reporter       jsonb,            -- kept only when the resident consented to share it with units
    rejected_units text[] NOT NULL DEFAULT '{}',
    current_unit   text,
    routings       integer NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
