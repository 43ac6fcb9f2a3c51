-- The notifier owns the reporters' contact data (needed to tell them), subscriptions, alerts and the
-- delivery log that makes each (event, recipient, channel) go out at most once.
CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recipients (
    case_id          uuid PRIMARY KEY,
    case_number      text NOT NULL,
    language         text NOT NULL,
    email            text,
    device_token     text,
    description      text NOT NULL,
    category_code    text,
    unsubscribe_token text NOT NULL UNIQUE,
    unsubscribed     boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    dedupe_key      text NOT NULL UNIQUE,      -- event id : channel : recipient
    case_id         uuid,
    alert_id        uuid,
    channel         text NOT NULL CHECK (channel IN ('email', 'push')),
    recipient       text NOT NULL,
    template        text NOT NULL,
    language        text NOT NULL,
    subject         text NOT NULL,
    body_text       text NOT NULL,
    body_html       text,
    message_id      text NOT NULL,
    unsubscribe_url text,
    priority        smallint NOT NULL DEFAULT 0,   -- 0 case notifications, 1 city alerts
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_at      timestamptz,
    claimed_by      text,
    last_error      text,
    event_time      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX deliveries_due ON deliveries (priority, next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_sending ON deliveries (claimed_at) WHERE status = 'sending';

CREATE TABLE subscriptions (
    id                uuid PRIMARY KEY,
    channel           text NOT NULL CHECK (channel IN ('email', 'push')),
    address           text NOT NULL,
    districts         text[] NOT NULL DEFAULT '{}',   -- empty: the whole city
    language          text NOT NULL DEFAULT 'pl',
    unsubscribe_token text NOT NULL UNIQUE,
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel, address)
);

CREATE TABLE alerts (
    alert_id    uuid PRIMARY KEY,
    title       text NOT NULL,
    body        text NOT NULL,
    severity    text NOT NULL,
    districts   text[] NOT NULL DEFAULT '{}',
    expires_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Status changes that arrived before their case.created (applied when it comes).
CREATE TABLE pending_events (
    event_id    uuid PRIMARY KEY,
    case_id     uuid NOT NULL,
    payload     jsonb NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX notifier_pending_case ON pending_events (case_id);
