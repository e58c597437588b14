-- Portable between SQLite and PostgreSQL: BIGINT and TEXT only.
-- `body` holds the sealed note body (AES-256-GCM, key id in the associated data), never plaintext.
CREATE TABLE notes (
    id BIGINT PRIMARY KEY,
    owner_key TEXT NOT NULL,
    owner_name TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX notes_by_owner ON notes (owner_key, id);
