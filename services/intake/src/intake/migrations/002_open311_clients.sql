-- Open311 client applications: one key each, stored as SHA-256 (several active keys allow rotation).
CREATE TABLE open311_clients (
    key_hash   text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
