"""Versioned schema migrations, applied in order when a store is opened.

Each migration is a list of SQL statements; the version reached is recorded in ``schema_version``.
Never edit a released migration: append a new one. Labels are stored as native DuckDB lists and
structs so Arrow tables load in bulk and queries can unnest them without JSON parsing.
"""
from __future__ import annotations

SPAN = 'STRUCT("start" INTEGER, "end" INTEGER, label VARCHAR)'
CONTEXT = "STRUCT(speaker VARCHAR, text VARCHAR)"

MIGRATIONS: list[list[str]] = [
    # 1: the whole initial schema.
    [
        """CREATE TABLE projects (
            project VARCHAR PRIMARY KEY,
            overlap INTEGER NOT NULL DEFAULT 1,      -- how many annotators label each turn
            seed INTEGER NOT NULL DEFAULT 0,         -- seeded shuffle before any model ranks the queue
            guidelines VARCHAR NOT NULL DEFAULT '',  -- Markdown written by an admin
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        """CREATE TABLE imports (
            import_id VARCHAR PRIMARY KEY,
            project VARCHAR NOT NULL,
            files VARCHAR[] NOT NULL,
            label_role VARCHAR NOT NULL,             -- gold | suggestion | ignored
            n_turns INTEGER NOT NULL,
            n_duplicates INTEGER NOT NULL,
            imported_by VARCHAR,
            imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        f"""CREATE TABLE turns (
            turn_id VARCHAR PRIMARY KEY,             -- the record's id (minted from the hash when absent)
            project VARCHAR NOT NULL,
            conversation_id VARCHAR NOT NULL,
            turn_index INTEGER,
            context {CONTEXT}[] NOT NULL,
            text VARCHAR NOT NULL,
            response VARCHAR,
            meta VARCHAR NOT NULL DEFAULT '{{}}',    -- JSON object, kept as given
            content_hash VARCHAR NOT NULL,
            import_id VARCHAR NOT NULL,
            source VARCHAR,                          -- file:line it came from
            seq BIGINT NOT NULL)                     -- import order, stable across reopen""",
        "CREATE INDEX turns_project ON turns(project)",
        "CREATE INDEX turns_hash ON turns(content_hash)",
        """CREATE TABLE label_schema (
            project VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,                   -- intent | entity | sentiment | alignment
            name VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            description VARCHAR NOT NULL DEFAULT '',
            active BOOLEAN NOT NULL DEFAULT true,
            PRIMARY KEY (project, kind, name))""",
        """CREATE TABLE label_renames (
            project VARCHAR NOT NULL, kind VARCHAR NOT NULL,
            old_name VARCHAR NOT NULL, new_name VARCHAR NOT NULL,
            renamed_by VARCHAR, renamed_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        f"""CREATE TABLE imported_labels (
            turn_id VARCHAR NOT NULL,
            import_id VARCHAR NOT NULL,
            role VARCHAR NOT NULL,                   -- gold | suggestion | ignored
            intents VARCHAR[] NOT NULL,
            entities {SPAN}[] NOT NULL,
            sentiment VARCHAR,
            aligned BOOLEAN,
            PRIMARY KEY (turn_id, import_id))""",
        "CREATE SEQUENCE annotation_seq",
        f"""CREATE TABLE annotations (
            annotation_id VARCHAR PRIMARY KEY,       -- minted by the client: a repeated submit is a no-op
            seq BIGINT NOT NULL DEFAULT nextval('annotation_seq'),  -- the order things happened in
            turn_id VARCHAR NOT NULL,
            project VARCHAR NOT NULL,
            annotator VARCHAR NOT NULL,
            action VARCHAR NOT NULL,                 -- submit | skip | undo | flag | adjudicate
            intents VARCHAR[],
            entities {SPAN}[],
            sentiment VARCHAR,
            aligned BOOLEAN,
            corrected_response VARCHAR,
            flagged BOOLEAN NOT NULL DEFAULT false,
            note VARCHAR,                            -- why a turn was flagged / how it was resolved
            undoes VARCHAR,                          -- for undo: the annotation it reverts
            duration_ms INTEGER,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        "CREATE INDEX annotations_turn ON annotations(turn_id)",
        """CREATE TABLE leases (
            turn_id VARCHAR NOT NULL,
            annotator VARCHAR NOT NULL,
            project VARCHAR NOT NULL,
            expires_at TIMESTAMP NOT NULL,
            PRIMARY KEY (turn_id, annotator))""",
        """CREATE TABLE users (
            username VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,                   -- annotator | analyst | admin
            password_hash VARCHAR NOT NULL,
            active BOOLEAN NOT NULL DEFAULT true,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        """CREATE TABLE model_runs (
            run_id VARCHAR PRIMARY KEY,
            project VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,                   -- fast | full
            status VARCHAR NOT NULL,                 -- queued | running | done | failed | superseded
            model_version VARCHAR,
            snapshot_hash VARCHAR,
            n_labels INTEGER,
            metrics VARCHAR,                         -- JSON
            timings VARCHAR,                         -- JSON
            error VARCHAR,
            artifact_dir VARCHAR,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            finished_at TIMESTAMP)""",
        f"""CREATE TABLE predictions (
            run_id VARCHAR NOT NULL,
            turn_id VARCHAR NOT NULL,
            intents VARCHAR[],
            intent_probs VARCHAR,                    -- JSON label -> p
            entities {SPAN}[],
            entity_scores DOUBLE[],
            sentiment VARCHAR,
            sentiment_probs VARCHAR,                 -- JSON label -> p
            alignment_score DOUBLE,
            misalignment_prob DOUBLE,
            uncertainty DOUBLE,
            PRIMARY KEY (run_id, turn_id))""",
        """CREATE TABLE queue_rank (
            project VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            turn_id VARCHAR NOT NULL,
            rank INTEGER NOT NULL,
            score DOUBLE,
            PRIMARY KEY (project, turn_id))""",
        """CREATE TABLE exports (
            export_id VARCHAR PRIMARY KEY,
            project VARCHAR NOT NULL,
            format VARCHAR NOT NULL,
            filters VARCHAR NOT NULL,                -- JSON
            manifest VARCHAR NOT NULL,               -- JSON
            out_path VARCHAR NOT NULL,
            exported_by VARCHAR,
            exported_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
    ],
    [   # 2: out-of-fold label-error audits outlive the app process that ran them
        """CREATE TABLE label_audits (
            audit_id VARCHAR PRIMARY KEY,
            project VARCHAR NOT NULL,
            state VARCHAR NOT NULL,                  -- done | failed
            data_version VARCHAR,                    -- the labels it audited (store.current.data_version)
            n_labelled INTEGER,
            rows VARCHAR,                            -- JSON list, most likely error first
            error VARCHAR,
            started_at TIMESTAMP,
            finished_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
    ],
    [   # 3: whether the run's encoder could read each turn (the label-errors page sets aside those it could
        # not); NULL = not checked: runs before this column, or an encoder other than the packaged MiniLM
        "ALTER TABLE predictions ADD COLUMN encoder_reads BOOLEAN",
    ],
    [   # 4: an annotator's unsaved form values for a turn, so a reload of the label page keeps them
        # (store.drafts); one row per (project, turn, annotator), overwritten, deleted on submit / skip
        f"""CREATE TABLE drafts (
            project VARCHAR NOT NULL,
            turn_id VARCHAR NOT NULL,
            annotator VARCHAR NOT NULL,
            intents VARCHAR[] NOT NULL,
            entities {SPAN}[] NOT NULL,
            sentiment VARCHAR,
            aligned BOOLEAN,
            corrected_response VARCHAR,
            saved_at TIMESTAMP NOT NULL,
            PRIMARY KEY (project, turn_id, annotator))""",
    ],
]

LATEST = len(MIGRATIONS)


def current_version(con) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return row[0] or 0


def migrate(con) -> int:
    """Bring the database up to ``LATEST``, each migration in its own transaction. Returns the version."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
        "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    version = current_version(con)
    if version > LATEST:
        raise RuntimeError(
            f"the database is at schema version {version}, newer than this Concord knows ({LATEST}); upgrade Concord"
        )
    for number in range(version + 1, LATEST + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in MIGRATIONS[number - 1]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [number])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return LATEST
