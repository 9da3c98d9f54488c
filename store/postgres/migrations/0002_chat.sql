-- taskbolt schema 2: the chat assistant's conversations (CONTRACT.md "Chat"),
-- per owner with ids from counters on the owner's row, never reused.
ALTER TABLE taskbolt_users
    ADD COLUMN last_conversation bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_message      bigint NOT NULL DEFAULT 0;

CREATE TABLE taskbolt_conversations (
    owner      text COLLATE "C" NOT NULL,
    id         bigint NOT NULL CHECK (id > 0),
    title      bytea NOT NULL,          -- UTF-8, as task titles: NUL is allowed
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,    -- the last message's time
    PRIMARY KEY (owner, id)
);
CREATE INDEX taskbolt_conversations_recent ON taskbolt_conversations (owner, updated_at DESC, id DESC);

CREATE TABLE taskbolt_messages (
    owner           text COLLATE "C" NOT NULL,
    conversation_id bigint NOT NULL,
    id              bigint NOT NULL CHECK (id > 0),
    role            text NOT NULL CHECK (role IN ('user', 'assistant')),
    content         bytea NOT NULL,
    tool_calls      bytea,              -- the assistant's tool calls, a JSON array
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (owner, conversation_id, id),
    FOREIGN KEY (owner, conversation_id) REFERENCES taskbolt_conversations (owner, id) ON DELETE CASCADE
);
