-- taskbolt schema 1: one row per task, keyed by (owner, id); ids per owner
-- from a counter row that is never lowered, so a deleted id is never reused.
CREATE TABLE taskbolt_users (
    owner   text COLLATE "C" PRIMARY KEY,
    last_id bigint NOT NULL DEFAULT 0 CHECK (last_id >= 0),
    -- The owner's tasks by status and priority: counts[1 + 4*completed + priority].
    -- X-Total-Count of a list filtered by those alone, without counting rows.
    counts  bigint[] NOT NULL DEFAULT '{0,0,0,0,0,0,0,0}',
    -- The owner's change sequence: the id of its last entry in taskbolt_changes.
    seq     bigint NOT NULL DEFAULT 0
);

-- Each owner's change log (the event stream's source), written in the
-- transaction of the change; kept for an hour and the last 1,000 changes.
CREATE TABLE taskbolt_changes (
    owner   text COLLATE "C" NOT NULL,
    seq     bigint NOT NULL,
    kind    smallint NOT NULL,            -- 1 created, 2 updated, 3 deleted, 4 reminder
    task_id bigint NOT NULL,
    data    text NOT NULL,                -- the event's JSON
    at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, seq)
);

CREATE TABLE taskbolt_tasks (
    owner       text COLLATE "C" NOT NULL,
    id          bigint NOT NULL CHECK (id > 0),
    -- Title and description are UTF-8 bytes, not text: a title may hold NUL,
    -- which text cannot, and bytes sort by code point, as bbolt does.
    title       bytea NOT NULL,
    description bytea,
    completed   boolean NOT NULL DEFAULT false,
    priority    smallint NOT NULL DEFAULT 0,    -- 0 none, 1 low, 2 medium, 3 high
    tags        text[] NOT NULL DEFAULT '{}',   -- as written
    tags_fold   text[] NOT NULL DEFAULT '{}',   -- store.FoldTag of each: what a tag filter matches
    search      bytea NOT NULL DEFAULT '',      -- store.FoldText of the title, what q searches
    search_desc bytea,                          -- and of the description
    due_date    timestamptz,
    recurrence  text NOT NULL DEFAULT '',
    remind_at   timestamptz,
    reminded_at timestamptz,                    -- the remind_at whose reminder was sent
    spawned     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (owner, id)
);

-- One index per sort key, led by the owner and the status, so a page of any
-- sort, with or without a status filter, is read in order and stops at the
-- page's end however many tasks the user has.
CREATE INDEX taskbolt_tasks_created  ON taskbolt_tasks (owner, created_at, id);
CREATE INDEX taskbolt_tasks_updated  ON taskbolt_tasks (owner, updated_at, id);
CREATE INDEX taskbolt_tasks_title    ON taskbolt_tasks (owner, title, id);
CREATE INDEX taskbolt_tasks_due      ON taskbolt_tasks (owner, due_date, id);
CREATE INDEX taskbolt_tasks_priority ON taskbolt_tasks (owner, priority, id);
CREATE INDEX taskbolt_tasks_status   ON taskbolt_tasks (owner, completed, created_at, id);
CREATE INDEX taskbolt_tasks_tags     ON taskbolt_tasks USING gin (tags_fold);
-- due_date sorts undated tasks last in both directions: one index each way.
CREATE INDEX taskbolt_tasks_due_desc ON taskbolt_tasks (owner, due_date DESC NULLS LAST, id DESC);

-- Outcomes of requests made with an Idempotency-Key, written in the
-- transaction of the change they record; swept once expired.
CREATE TABLE taskbolt_idempotency (
    owner       text COLLATE "C" NOT NULL,
    key         text COLLATE "C" NOT NULL,
    fingerprint bytea NOT NULL,
    status      integer NOT NULL DEFAULT 0,   -- 0 while the first request runs
    header      text,                          -- the recorded headers, JSON
    body        bytea,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (owner, key)
);

-- Reminders still to fire: the sweep reads them in time order.
CREATE INDEX taskbolt_tasks_reminders ON taskbolt_tasks (remind_at)
    WHERE remind_at IS NOT NULL AND NOT completed AND reminded_at IS DISTINCT FROM remind_at;
