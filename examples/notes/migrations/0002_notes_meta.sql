-- Facts about the data itself, written once: `bodies_bound` says every body sealed before bodies
-- were bound to their row (`v1.`) has been bound, so that a `v1.` body found later is refused
-- as an injection instead of being bound to whatever row it was copied into.
CREATE TABLE notes_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
