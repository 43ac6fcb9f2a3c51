-- Photos uploaded by channels (the app's optional first step); cases refer to them by URL.
CREATE TABLE photos (
    photo_id     uuid PRIMARY KEY,
    content_type text NOT NULL,
    sha256       text NOT NULL,
    size_bytes   integer NOT NULL,
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
