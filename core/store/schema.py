"""The SQLite layout of the event store.

`events` holds one row per event with the System fields as columns and the ordered EventData
pairs marshalled (to rebuild the `Event`, see `core.model.rows`). `postings` indexes the EventData
values: one row per distinct (field, value) with the ids of the events holding it as a JSON
array (a pair may have several rows: one per batch of a large EVTX log or flush while loading,
one per spelling of the name), the field name lower-cased and `num` set when the value is a number (hex or decimal), so
that `pid:0xc8c` and `pid:3212` find `0x0000000000000c8c` through an index. Logs repeat most
values, so this is a small fraction of the rows a row-per-field table needs, and SQLite expands
a list in C (`json_each`, see `FIELD_IDS`). System values stay in their `events` columns only;
`SYSTEM_FIELDS` maps their names to those columns for the query compiler.

Secondary indexes are built once, after the bulk load (`INDEXES`): maintaining them row by row
during ingest costs several times more.
"""

from __future__ import annotations

from core.model.rows import EVENT_COLUMNS

SCHEMA_VERSION = 7

TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS sources (
    id           INTEGER PRIMARY KEY,   -- the `source` of an Event: 0-based input position
    path         TEXT NOT NULL,
    format       TEXT NOT NULL,
    identity     TEXT,
    records      INTEGER NOT NULL DEFAULT 0,
    parse_issues INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    complete     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS issues (
    source INTEGER NOT NULL,
    chunk  INTEGER,
    offset INTEGER,
    reason TEXT NOT NULL,
    ts     INTEGER                      -- the damaged record's header time (FILETIME), if readable
);
CREATE TABLE IF NOT EXISTS events (
    id            INTEGER PRIMARY KEY,  -- core.model.rows.store_id: (input << 40) + place in it
    source        INTEGER NOT NULL,
    record_number INTEGER NOT NULL,
    record_id     INTEGER NOT NULL,     -- EventRecordID, else the 1-based position
    ts            INTEGER,              -- FILETIME ticks (100 ns since 1601, UTC); NULL = no time
    event_id      INTEGER NOT NULL,
    version       INTEGER,
    level         INTEGER,
    task          INTEGER,
    opcode        INTEGER,
    keywords      TEXT,
    channel       TEXT NOT NULL,
    provider      TEXT NOT NULL,
    computer      TEXT NOT NULL,
    pid           INTEGER,
    tid           INTEGER,
    user_sid      TEXT,
    locator       INTEGER,
    data          BLOB NOT NULL         -- marshalled ((name, value), ...) pairs, document order
);
CREATE TABLE IF NOT EXISTS strings (  -- every distinct computer, channel, provider and user SID
    value TEXT PRIMARY KEY                -- (free text finds events through them: core.query.compile)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS repeated_names (  -- lower-cased EventData names some event holds more than
    name TEXT PRIMARY KEY                     -- once (core.model.rows.REPEATED): a stack of one of them
) WITHOUT ROWID;                              -- counts distinct events, not list lengths
CREATE TABLE IF NOT EXISTS postings (
    name  TEXT NOT NULL,                -- lower-cased field name
    value TEXT NOT NULL,
    num   INTEGER,                      -- core.model.values.as_int(value)
    lo    INTEGER,                      -- the list's first and last ids, and its text's bytes:
    hi    INTEGER,                      -- read before `ids` (whose text can take megabytes of
    size  INTEGER,                      -- overflow pages) to tell which lists a range of ids meets
    ids   TEXT NOT NULL                 -- JSON array of events.id holding this value, ascending
);
"""

INDEXES = """
CREATE INDEX IF NOT EXISTS events_time ON events(ts, record_id);
CREATE INDEX IF NOT EXISTS events_eid ON events(event_id, ts);
CREATE INDEX IF NOT EXISTS events_computer ON events(computer COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS events_record ON events(record_id);
CREATE INDEX IF NOT EXISTS postings_num ON postings(name, num) WHERE num IS NOT NULL;
CREATE INDEX IF NOT EXISTS postings_value ON postings(name, value COLLATE NOCASE);
"""

#: Ids of the events having an EventData field that matches: format with `cond`, an SQL
#: condition over the postings row `p` (its name, value, num). Used as `e.id IN (...)`. Every
#: id listed is a stored event's (lists are written after their events, never for events a
#: stopped load drops), so counting distinct ids counts the events.
FIELD_IDS = "SELECT j.value AS id FROM postings p, json_each(p.ids) j WHERE {cond}"

#: System field names (lower-cased) -> their `events` column, for `field:value` on System fields.
SYSTEM_FIELDS: dict[str, str] = {
    "eventid": "event_id",
    "eventrecordid": "record_id",
    "computer": "computer",
    "channel": "channel",
    "provider": "provider",
    "level": "level",
    "task": "task",
    "opcode": "opcode",
    "keywords": "keywords",
    "version": "version",
    "processid": "pid",
    "threadid": "tid",
    "usersid": "user_sid",
}

#: OR REPLACE: a worker that dies after committing its batch has it decoded again, identically.
_PLACES = ", ".join("?" * len(EVENT_COLUMNS.split(",")))
INSERT_EVENTS = f"INSERT OR REPLACE INTO events({EVENT_COLUMNS}) VALUES ({_PLACES})"
INSERT_POSTINGS = "INSERT INTO postings(name, value, num, lo, hi, size, ids) VALUES (?, ?, ?, ?, ?, ?, ?)"
INSERT_STRINGS = "INSERT OR IGNORE INTO strings(value) VALUES (?)"
INSERT_REPEATED = "INSERT OR IGNORE INTO repeated_names(name) VALUES (?)"
#: The first (lowest) id of a posting list `ids`: the lists a worker wrote for one batch are
#: found by it (`core.store.evtx_ingest`, `core.store.ingest`), all their ids being the batch's.
LIST_FIRST_ID = "lo"
