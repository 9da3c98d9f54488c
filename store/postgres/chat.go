package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/taskbolt/taskbolt/store"
)

// Conversations (migration 0002): one row per conversation and per message,
// keyed by owner; ids come from the owner's counters on taskbolt_users.

var (
	_ store.ChatStore  = (*Store)(nil)
	_ store.ChatDumper = (*Store)(nil)
)

// AddMessage implements store.ChatStore, in one transaction.
func (s *Store) AddMessage(ctx context.Context, owner string, id uint64, m store.NewMessage) (store.Conversation, store.Message, error) {
	if err := s.check(ctx, owner); err != nil {
		return store.Conversation{}, store.Message{}, err
	}
	now := s.clock()
	conv := store.Conversation{ID: id, UserID: owner, UpdatedAt: now}
	msg := store.Message{Role: m.Role, Content: m.Content, ToolCalls: m.ToolCalls, CreatedAt: now}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if m.Idem != nil {
			var err error
			if m.Idem.Outcome != nil {
				err = claimKey(ctx, tx, owner, m.Idem)
			} else {
				err = peekKey(ctx, tx, owner, m.Idem)
			}
			if err != nil {
				return err
			}
		}
		if id == 0 {
			conv.Title, conv.CreatedAt = store.ConversationTitle(m.Content), now
			err := tx.QueryRow(ctx, `INSERT INTO taskbolt_users AS u (owner, last_conversation, last_message) VALUES ($1, 1, 1)
				ON CONFLICT (owner) DO UPDATE SET last_conversation = u.last_conversation + 1, last_message = u.last_message + 1
				RETURNING last_conversation, last_message`, owner).Scan(&conv.ID, &msg.ID)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO taskbolt_conversations (owner, id, title, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
				owner, int64(conv.ID), []byte(conv.Title), now); err != nil {
				return err
			}
		} else {
			var title []byte
			err := tx.QueryRow(ctx, `UPDATE taskbolt_conversations SET updated_at = $3 WHERE owner = $1 AND id = $2
				RETURNING title, created_at`, owner, int64(id), now).Scan(&title, &conv.CreatedAt)
			if errors.Is(err, pgx.ErrNoRows) {
				return store.ErrConversationNotFound
			}
			if err != nil {
				return err
			}
			conv.Title, conv.CreatedAt = string(title), conv.CreatedAt.UTC()
			if err := tx.QueryRow(ctx, `UPDATE taskbolt_users SET last_message = last_message + 1 WHERE owner = $1 RETURNING last_message`,
				owner).Scan(&msg.ID); err != nil {
				return err
			}
		}
		msg.ConversationID = conv.ID
		if _, err := tx.Exec(ctx, `INSERT INTO taskbolt_messages (owner, conversation_id, id, role, content, tool_calls, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, owner, int64(conv.ID), int64(msg.ID), m.Role, []byte(m.Content), nullBytes(m.ToolCalls), now); err != nil {
			return err
		}
		if m.Idem != nil && m.Idem.Outcome != nil {
			return recordOutcome(ctx, tx, owner, m.Idem, nil)
		}
		return nil
	})
	if err != nil {
		return store.Conversation{}, store.Message{}, classifyIdem(ctx, err)
	}
	return conv, msg, nil
}

func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// peekKey answers from a key that already holds an outcome, without taking
// it: the first write of a chat turn checks, the last one records.
func peekKey(ctx context.Context, tx pgx.Tx, owner string, idem *store.Idempotency) error {
	err := recorded(tx.QueryRow(ctx, `SELECT fingerprint, status, header, body FROM taskbolt_idempotency
		WHERE owner = $1 AND key = $2 AND status <> 0 AND expires_at > now()`, owner, idem.Key), idem)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

const convColumns = `id, owner, title, created_at, updated_at`

func scanConversation(r row) (store.Conversation, error) {
	var c store.Conversation
	var title []byte
	err := r.Scan(&c.ID, &c.UserID, &title, &c.CreatedAt, &c.UpdatedAt)
	c.Title, c.CreatedAt, c.UpdatedAt = string(title), c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

// Conversations implements store.ChatStore.
func (s *Store) Conversations(ctx context.Context, owner string) ([]store.Conversation, error) {
	if err := s.check(ctx, owner); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+convColumns+` FROM taskbolt_conversations WHERE owner = $1 ORDER BY updated_at DESC, id DESC`, owner)
	if err != nil {
		return nil, classify(ctx, err)
	}
	out := []store.Conversation{}
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
	}
	return out, classify(ctx, rows.Err())
}

// Messages implements store.ChatStore.
func (s *Store) Messages(ctx context.Context, owner string, id uint64) ([]store.Message, error) {
	if err := s.check(ctx, owner); err != nil {
		return nil, err
	}
	var found bool
	err := s.pool.QueryRow(ctx, `SELECT true FROM taskbolt_conversations WHERE owner = $1 AND id = $2`, owner, int64(id)).Scan(&found)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrConversationNotFound
	}
	if err != nil {
		return nil, classify(ctx, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+msgColumns+` FROM taskbolt_messages
		WHERE owner = $1 AND conversation_id = $2 ORDER BY id`, owner, int64(id))
	if err != nil {
		return nil, classify(ctx, err)
	}
	out := []store.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, m)
	}
	return out, classify(ctx, rows.Err())
}

// msgColumns are a message's columns in the order scanMessage reads them.
const msgColumns = `conversation_id, id, role, content, tool_calls, created_at`

func scanMessage(r row) (store.Message, error) {
	var m store.Message
	var content []byte
	err := r.Scan(&m.ConversationID, &m.ID, &m.Role, &content, &m.ToolCalls, &m.CreatedAt)
	m.Content, m.CreatedAt = string(content), m.CreatedAt.UTC()
	return m, err
}

// DeleteConversation implements store.ChatStore; its messages go with it.
func (s *Store) DeleteConversation(ctx context.Context, owner string, id uint64) error {
	if err := s.check(ctx, owner); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM taskbolt_conversations WHERE owner = $1 AND id = $2`, owner, int64(id))
	if err != nil {
		return classify(ctx, err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrConversationNotFound
	}
	return nil
}

// DumpChats implements store.ChatDumper, in one repeatable-read
// transaction so the export is one state.
func (s *Store) DumpChats(ctx context.Context, fn func(owner string, convs []store.Conversation) error) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return classify(ctx, err)
	}
	defer tx.Rollback(context.Background())
	var owners []string
	rows, err := tx.Query(ctx, `SELECT DISTINCT owner FROM taskbolt_conversations ORDER BY owner`)
	if err != nil {
		return classify(ctx, err)
	}
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return err
		}
		owners = append(owners, o)
	}
	if err := rows.Err(); err != nil {
		return classify(ctx, err)
	}
	for _, owner := range owners {
		convs, err := collectConversations(ctx, tx, owner)
		if err != nil {
			return err
		}
		if err := fn(owner, convs); err != nil {
			return err
		}
	}
	return nil
}

func collectConversations(ctx context.Context, tx pgx.Tx, owner string) ([]store.Conversation, error) {
	rows, err := tx.Query(ctx, `SELECT `+convColumns+` FROM taskbolt_conversations WHERE owner = $1 ORDER BY id`, owner)
	if err != nil {
		return nil, classify(ctx, err)
	}
	var convs []store.Conversation
	byID := map[uint64]int{}
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		c.Messages = []store.Message{}
		byID[c.ID] = len(convs)
		convs = append(convs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(ctx, err)
	}
	rows, err = tx.Query(ctx, `SELECT `+msgColumns+` FROM taskbolt_messages
		WHERE owner = $1 ORDER BY conversation_id, id`, owner)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		i, ok := byID[m.ConversationID]
		if !ok {
			return nil, fmt.Errorf("user %q: message %d belongs to no conversation", owner, m.ID)
		}
		convs[i].Messages = append(convs[i].Messages, m)
	}
	return convs, classify(ctx, rows.Err())
}

// LoadChats implements store.ChatDumper, in one transaction.
func (s *Store) LoadChats(ctx context.Context, owner string, convs []store.Conversation) error {
	if err := s.check(ctx, owner); err != nil {
		return err
	}
	var lastConv, lastMsg uint64
	for _, c := range convs {
		lastConv = max(lastConv, c.ID)
		for _, m := range c.Messages {
			lastMsg = max(lastMsg, m.ID)
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO taskbolt_users AS u (owner, last_conversation, last_message) VALUES ($1, $2, $3)
			ON CONFLICT (owner) DO UPDATE SET last_conversation = greatest(u.last_conversation, $2), last_message = greatest(u.last_message, $3)`,
			owner, int64(lastConv), int64(lastMsg)); err != nil {
			return err
		}
		for _, c := range convs {
			if c.ID == 0 {
				return errors.New("conversation without an id")
			}
			if _, err := tx.Exec(ctx, `DELETE FROM taskbolt_conversations WHERE owner = $1 AND id = $2`, owner, int64(c.ID)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO taskbolt_conversations (owner, id, title, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)`,
				owner, int64(c.ID), []byte(c.Title), c.CreatedAt, c.UpdatedAt); err != nil {
				return err
			}
			for _, m := range c.Messages {
				if _, err := tx.Exec(ctx, `INSERT INTO taskbolt_messages (owner, conversation_id, id, role, content, tool_calls, created_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7)`, owner, int64(c.ID), int64(m.ID), m.Role, []byte(m.Content), nullBytes(m.ToolCalls), m.CreatedAt); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return classify(ctx, err)
}

// checkChats reports conversations and messages above their owner's counters.
func (s *Store) checkChats(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.owner, max(c.id), coalesce(max(u.last_conversation), -1) FROM taskbolt_conversations c
		LEFT JOIN taskbolt_users u USING (owner) GROUP BY c.owner HAVING max(c.id) > coalesce(max(u.last_conversation), -1)
		UNION ALL
		SELECT m.owner, max(m.id), coalesce(max(u.last_message), -1) FROM taskbolt_messages m
		LEFT JOIN taskbolt_users u USING (owner) GROUP BY m.owner HAVING max(m.id) > coalesce(max(u.last_message), -1)`)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var owner string
		var top, counter int64
		if err := rows.Scan(&owner, &top, &counter); err != nil {
			return nil, err
		}
		problems = append(problems, fmt.Sprintf("user %q: conversation or message %d is above its counter %d", owner, top, counter))
	}
	return problems, classify(ctx, rows.Err())
}
