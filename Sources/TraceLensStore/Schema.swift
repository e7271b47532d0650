import TraceLensInput

/// The store's tables. `PRAGMA user_version` holds `Schema.version`; a store written by a newer
/// TraceLens is refused rather than misread. Documented for users in docs/user-guide.md.
package enum Schema {
    package static let version: Int32 = 6

    package static let create = """
        -- One row per file (or stream) ingested. offset/line say how far it has been read.
        CREATE TABLE sources (
            id             INTEGER PRIMARY KEY,
            path           TEXT NOT NULL,
            device         INTEGER,
            inode          INTEGER,
            head_length    INTEGER NOT NULL DEFAULT 0,   -- bytes hashed at the start of the file
            head_hash      TEXT,                         -- identity: a new file under the old name is a new source
            size           INTEGER NOT NULL DEFAULT 0,   -- file size when last read
            layout         TEXT,
            encoding       TEXT,
            process        TEXT,                         -- from the file name (gskssl.<pid>.trc)
            offset         INTEGER NOT NULL DEFAULT 0,   -- decoded bytes read: where the next ingest resumes
            line           INTEGER NOT NULL DEFAULT 0,   -- lines read
            reader_state   TEXT,                         -- date carried across lines (component traces)
            lanes          TEXT,                         -- which connection each thread holds at offset
            tail_record    INTEGER,                      -- first record after offset (the file's last record, which may still grow): redone on resume
            records        INTEGER NOT NULL DEFAULT 0,
            unparsed       INTEGER NOT NULL DEFAULT 0,
            unlinked       INTEGER NOT NULL DEFAULT 0,   -- records in no connection
            codes          INTEGER NOT NULL DEFAULT 0,
            failure_codes  INTEGER NOT NULL DEFAULT 0,
            secrets_masked INTEGER NOT NULL DEFAULT 0,
            clock_offset   INTEGER NOT NULL DEFAULT 0,   -- microseconds added to this source's times when linking (--offset)
            first_time     INTEGER,                      -- microseconds since 1970, trace local time
            last_time      INTEGER,
            ingested_at    TEXT NOT NULL DEFAULT (datetime('now')),
            updated_at     TEXT NOT NULL DEFAULT (datetime('now'))
        );
        CREATE INDEX sources_path ON sources(path);

        \(records)

        -- Codes per source, kept at ingest so summaries need not scan codes.
        CREATE TABLE code_counts (
            source    INTEGER NOT NULL,
            catalogue TEXT NOT NULL,
            code      TEXT NOT NULL,
            failure   INTEGER NOT NULL,
            count     INTEGER NOT NULL,
            PRIMARY KEY (source, catalogue, code)
        ) WITHOUT ROWID;

        -- One row per connection (TLS session) found by the plugins' [[connection]] rules.
        CREATE TABLE connections (
            id          INTEGER PRIMARY KEY,
            source      INTEGER NOT NULL,
            rule        TEXT NOT NULL,
            lane        TEXT NOT NULL,
            stage       INTEGER NOT NULL,
            process     TEXT,
            thread      TEXT,
            start_time  INTEGER,
            end_time    INTEGER,
            first_line  INTEGER NOT NULL,
            last_line   INTEGER NOT NULL,
            peer_ip     TEXT,
            peer_port   INTEGER,
            local_ip    TEXT,
            local_port  INTEGER,
            protocol    TEXT,
            cipher      TEXT,
            subject     TEXT,
            issuer      TEXT,
            outcome     TEXT NOT NULL,   -- open, ok, failed
            ended       INTEGER NOT NULL,
            error       TEXT,            -- primary error, catalogue:code (the first failure code)
            related     TEXT,            -- the other failure codes, space-separated catalogue:code
            records     INTEGER NOT NULL,
            story       INTEGER,         -- set by linking: the connection (of another source) whose story this one is part of
            revision    INTEGER NOT NULL DEFAULT 0  -- rises whenever the connection, its story or its links change (what export sinks follow)
        );
        CREATE INDEX connections_story ON connections(story) WHERE story IS NOT NULL;
        CREATE INDEX connections_outcome ON connections(outcome, start_time);
        CREATE INDEX connections_peer ON connections(peer_ip, outcome);
        CREATE INDEX connections_source ON connections(source, ended);

        -- Every value captured about a connection (handle, peer, cipher, ...): what later sources match on.
        CREATE TABLE conn_keys (
            conn  INTEGER NOT NULL,
            name  TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (name, value, conn)
        ) WITHOUT ROWID;

        -- Why each linked connection was linked: one row per connection with a story.
        CREATE TABLE links (
            conn     INTEGER PRIMARY KEY,  -- the connection linked
            story    INTEGER NOT NULL,     -- the connection it was linked to
            rule     TEXT NOT NULL,        -- the plugin's [[link]] rule
            gap      INTEGER,              -- microseconds between their starts, after clock offsets; NULL when matched without time
            evidence TEXT NOT NULL         -- what matched, in words
        );

        \(follows)

        \(tls)

        \(exports)

        -- The catalogues of the plugins used at the last ingest, so SQL can decode codes.
        CREATE TABLE catalogue (
            catalogue TEXT NOT NULL,
            code      TEXT NOT NULL,
            name      TEXT,
            text      TEXT,
            PRIMARY KEY (catalogue, code)
        ) WITHOUT ROWID;

        CREATE VIEW failed_connections AS
            SELECT c.*, k.name AS error_name, k.text AS error_text
            FROM connections c
            LEFT JOIN catalogue k ON k.catalogue || ':' || k.code = c.error
            WHERE c.outcome = 'failed';

        \(codeViews)
        """

    /// The views that spread `records.codes` out (made again when version 5 replaced `records`).
    package static let codeViews = """
        -- One row per code found in a record (kept in records.codes; this view spreads them out).
        CREATE VIEW codes AS
            SELECT record, source, substr(c, 1, instr(c, ':') - 1) AS catalogue, substr(c, instr(c, ':') + 1) AS code, failure
            FROM (SELECT r.id AS record, r.source AS source, ltrim(j.value, '!') AS c, j.value LIKE '!%' AS failure
                  FROM records r, json_each(r.codes) j WHERE r.codes IS NOT NULL);

        CREATE VIEW decoded_codes AS
            SELECT codes.*, k.name, k.text FROM codes
            LEFT JOIN catalogue k ON k.catalogue = codes.catalogue AND k.code = codes.code;
        """

    /// Records, in compressed blocks (added in version 5; before, `records` was a table with
    /// one row per record and its text, 1.8 times the trace's size).
    package static let records = """
        -- Records in compressed blocks: consecutive records of one source, about 64 KB of them
        -- before compression (zlib). Read them through `records`.
        CREATE TABLE record_blocks (
            id       INTEGER PRIMARY KEY,  -- the id of its first record; its records are id ... last_id
            source   INTEGER NOT NULL,
            last_id  INTEGER NOT NULL,
            count    INTEGER NOT NULL,
            min_line INTEGER NOT NULL,
            max_line INTEGER NOT NULL,
            min_time INTEGER,              -- microseconds, as records.time
            max_time INTEGER,
            raw_size INTEGER NOT NULL,     -- bytes once inflated
            data     BLOB NOT NULL
        );
        CREATE INDEX record_blocks_source ON record_blocks(source, last_id);
        -- Which blocks hold a connection's records (what `records WHERE conn = ?` reads).
        CREATE TABLE record_conns (
            conn  INTEGER NOT NULL,
            block INTEGER NOT NULL,
            PRIMARY KEY (conn, block)
        ) WITHOUT ROWID;
        -- One row per record (a record line with its continuation lines, or one unparsed line),
        -- read from the blocks: a read-only virtual table of TraceLens's own, so only
        -- `tracelens sql` (not the sqlite3 shell) reads it. Its columns:
        --   id, source, line, lines                 numbers; lines is the record's line count
        --   time      microseconds since 1970 (trace local time); a time of day alone is below 86400000000
        --   level     ENTRY, EXIT, INFO, ERROR, WARNING, DUMP, or as written; NULL when unparsed
        --   process, thread                         when the record names them
        --   fn_at, fn_len, function                 where the function name is in text, and the name
        --   conn      connections.id, NULL when the record belongs to none
        --   failure   1 when it carries a failure code
        --   codes     JSON list of the codes found, "catalogue:code", failures marked "!": ["!ssl:431"]
        --   text      the lines as read, secrets masked
        CREATE VIRTUAL TABLE records USING \(RecordsTable.module);
        """

    /// What export sinks follow (added in version 6): numbers that only rise, the connections'
    /// revisions, and each sink's cursor.
    package static let exports = """
        -- Numbers that only rise: 'record' is the highest record id ever given (a tail read again,
        -- or records after retention, get new ids), 'revision' the last connection revision.
        CREATE TABLE sequences (
            name  TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO sequences (name, value) VALUES ('record', coalesce((SELECT max(last_id) FROM record_blocks), 0)),
                                                   ('revision', coalesce((SELECT max(revision) FROM connections), 0));
        CREATE INDEX connections_revision ON connections(revision);
        CREATE TRIGGER connections_revised_on_insert AFTER INSERT ON connections BEGIN
            UPDATE sequences SET value = value + 1 WHERE name = 'revision';
            UPDATE connections SET revision = (SELECT value FROM sequences WHERE name = 'revision') WHERE id = NEW.id;
        END;
        CREATE TRIGGER connections_revised_on_story AFTER UPDATE OF story ON connections WHEN OLD.story IS NOT NEW.story BEGIN
            UPDATE sequences SET value = value + 1 WHERE name = 'revision';
            UPDATE connections SET revision = (SELECT value FROM sequences WHERE name = 'revision') WHERE id = NEW.id;
        END;
        -- A story's findings change with the connections linked to it.
        CREATE TRIGGER story_revised_on_link AFTER INSERT ON links BEGIN
            UPDATE sequences SET value = value + 1 WHERE name = 'revision';
            UPDATE connections SET revision = (SELECT value FROM sequences WHERE name = 'revision') WHERE id = NEW.story;
        END;
        CREATE TRIGGER story_revised_on_unlink AFTER DELETE ON links BEGIN
            UPDATE sequences SET value = value + 1 WHERE name = 'revision';
            UPDATE connections SET revision = (SELECT value FROM sequences WHERE name = 'revision') WHERE id = OLD.story;
        END;

        -- One row per export sink (`[[export]]` of the daemon, `tracelens export --to`): how far it
        -- has been acknowledged, and how it is doing, for `tracelens status`.
        CREATE TABLE export_sinks (
            sink         TEXT PRIMARY KEY,          -- the sink's name
            kind         TEXT NOT NULL,             -- clickhouse, ndjson
            target       TEXT NOT NULL,             -- where it sends: a URL and database, or a file
            record       INTEGER NOT NULL DEFAULT 0, -- records up to this id are acknowledged
            revision     INTEGER NOT NULL DEFAULT 0, -- connection revisions up to this are acknowledged
            position     INTEGER NOT NULL DEFAULT 0, -- the sink's own: the ndjson file's length after the last batch
            records      INTEGER NOT NULL DEFAULT 0, -- records sent and acknowledged, all runs
            connections  INTEGER NOT NULL DEFAULT 0, -- connection rows sent and acknowledged
            state        TEXT NOT NULL DEFAULT 'idle', -- sending, caught up, retrying, stopped
            last_error   TEXT,
            error_at     TEXT,
            acked_at     TEXT,                      -- when the engine last acknowledged a batch
            pid          INTEGER,                   -- the process exporting
            updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        ) WITHOUT ROWID;
        """

    /// From version 5 (before export sinks): every connection gets a first revision.
    package static let upgradeFrom5 = """
        ALTER TABLE connections ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
        UPDATE connections SET revision = id;
        \(exports)
        """

    /// From version 1 (before linking across sources).
    package static let upgradeFrom1 = """
        ALTER TABLE sources ADD COLUMN clock_offset INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE connections ADD COLUMN story INTEGER;
        CREATE INDEX connections_story ON connections(story) WHERE story IS NOT NULL;
        CREATE TABLE links (conn INTEGER PRIMARY KEY, story INTEGER NOT NULL, rule TEXT NOT NULL, gap INTEGER, evidence TEXT NOT NULL);
        """

    /// Written by `watch` and `daemon` (added in version 3).
    package static let follows = """
        -- Written by `watch` and `daemon`: one row per file followed, for `tracelens status`.
        CREATE TABLE follows (
            path        TEXT PRIMARY KEY,
            source      INTEGER,             -- sources.id being read from it now
            device      INTEGER,
            inode       INTEGER,
            size        INTEGER NOT NULL,    -- file size when last looked at
            offset      INTEGER NOT NULL,    -- bytes read and committed (a last line without its line end is not)
            state       TEXT NOT NULL,       -- following, rotated (name now leads elsewhere), deleted, closed, waiting, error
            records     INTEGER NOT NULL DEFAULT 0,   -- records stored by this run
            rate        REAL NOT NULL DEFAULT 0,      -- records per second over the last minute
            last_error  TEXT,
            error_at    TEXT,
            pid         INTEGER,             -- process following it
            updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        ) WITHOUT ROWID;
        """

    /// From version 2 (before `watch` and `daemon`).
    package static let upgradeFrom2 = """
        \(follows)
        """

    /// The TLS messages read from dumped bytes (added in version 4).
    package static let tls = """
        -- The TLS messages read from the bytes of dump records: one row per message, with the
        -- record whose bytes completed it (source, line) and that record's connection.
        CREATE TABLE IF NOT EXISTS tls_messages (
            id        INTEGER PRIMARY KEY,
            source    INTEGER NOT NULL,
            line      INTEGER NOT NULL,
            conn      INTEGER,
            direction TEXT NOT NULL,     -- sent or received, as the side that wrote the trace saw it
            message   TEXT NOT NULL,     -- ClientHello, ServerHello, Certificate, Alert, ...
            version   TEXT,              -- ServerHello: the version chosen
            text      TEXT NOT NULL      -- the line format and show print under the record
        );
        CREATE INDEX IF NOT EXISTS tls_messages_conn ON tls_messages(conn);
        CREATE INDEX IF NOT EXISTS tls_messages_record ON tls_messages(source, line);
        -- Each value of a message: the ciphers, groups, signature schemes and versions offered,
        -- the cipher chosen, extensions, the server name, certificates' subject and issuer, alerts.
        CREATE TABLE IF NOT EXISTS tls_values (
            message   INTEGER NOT NULL,  -- tls_messages.id
            field     TEXT NOT NULL,     -- cipher, group, key_share, sig_alg, supported_version, extension, sni, alpn, subject, issuer, alert, ...
            value     TEXT NOT NULL,     -- the code as its catalogue writes it (C02C), or the text
            catalogue TEXT               -- the catalogue that names the code (join catalogue for its name)
        );
        CREATE INDEX IF NOT EXISTS tls_values_message ON tls_values(message, field);
        -- One row per value with its message and name: what SQL about handshakes reads.
        CREATE VIEW IF NOT EXISTS tls_offers AS
            SELECT m.conn, m.source, m.line, m.direction, m.message, v.field, v.value, k.name
            FROM tls_messages m JOIN tls_values v ON v.message = m.id
            LEFT JOIN catalogue k ON k.catalogue = v.catalogue AND k.code = v.value;
        """

    /// From version 3 (before the TLS messages).
    package static let upgradeFrom3 = """
        \(tls)
        """
}
