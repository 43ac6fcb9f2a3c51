-- Intake owns: the cases it accepted, the idempotency keys of channels, and the outbox to Kafka.
CREATE TABLE cases (
    case_id      uuid PRIMARY KEY,
    case_number  text NOT NULL UNIQUE,
    received_at  timestamptz NOT NULL,
    channel      text NOT NULL,
    kind         text NOT NULL,
    correlation_id text NOT NULL,
    payload      jsonb NOT NULL
);

CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY,
    request_hash text NOT NULL,
    case_id      uuid NOT NULL REFERENCES cases (case_id),
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Written in the same transaction as the case; the relay publishes and deletes rows in id order.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    key         bytea,
    payload     bytea NOT NULL,
    headers     jsonb NOT NULL,
    case_id     uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
