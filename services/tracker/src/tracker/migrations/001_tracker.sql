-- The tracker owns each case's current state and its public history, built from the events.
CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cases (
    case_id           uuid PRIMARY KEY,
    case_number       text NOT NULL UNIQUE,
    correlation_id    text NOT NULL,
    kind              text NOT NULL,
    category          jsonb,
    category_codes    text[] NOT NULL DEFAULT '{}',
    description       text NOT NULL,
    location          jsonb,
    photos            jsonb NOT NULL DEFAULT '[]',
    channel           text NOT NULL,
    language          text NOT NULL,
    status            text NOT NULL,
    unit_id           text,
    district          text,
    triage_reason     text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    sla_due_at        timestamptz,
    overdue           boolean NOT NULL DEFAULT false,
    overdue_at        timestamptz,
    first_response_at timestamptz,
    closed_at         timestamptz,
    duplicate_of      uuid,
    version           integer NOT NULL,
    secret_hash       text
);
CREATE INDEX cases_unit_status ON cases (unit_id, status);
CREATE INDEX cases_status ON cases (status);
CREATE INDEX cases_created ON cases (created_at);
CREATE INDEX cases_updated ON cases (updated_at);
CREATE INDEX cases_district ON cases (district);
CREATE INDEX cases_category ON cases USING gin (category_codes);
CREATE INDEX cases_sla_open ON cases (sla_due_at) WHERE NOT overdue AND status NOT IN ('closed', 'duplicate');

CREATE TABLE history (
    case_id      uuid NOT NULL REFERENCES cases (case_id),
    sequence     integer NOT NULL,
    status       text NOT NULL,
    from_status  text,
    actor_kind   text NOT NULL,
    actor_id     text,
    unit_id      text,
    public_note  text,
    occurred_at  timestamptz NOT NULL,
    event_id     uuid NOT NULL UNIQUE,
    PRIMARY KEY (case_id, sequence)
);

-- Events that arrived before their case (e.g. case.routed before case.created): applied when it comes.
CREATE TABLE pending_events (
    event_id    uuid PRIMARY KEY,
    case_id     uuid NOT NULL,
    topic       text NOT NULL,
    payload     jsonb NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX pending_case ON pending_events (case_id);

-- API keys, stored as SHA-256; several active keys per subject allow rotation without downtime.
CREATE TABLE api_keys (
    key_hash   text PRIMARY KEY,
    role       text NOT NULL CHECK (role IN ('unit', 'consultant', 'operator')),
    subject    text NOT NULL,
    label      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    key         bytea,
    payload     bytea NOT NULL,
    headers     jsonb NOT NULL,
    case_id     uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
