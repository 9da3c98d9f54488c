package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
)

// Conversations live in the user's bucket beside its tasks:
//
//	users/<user_id>/convs/<id>             = conversation record (its sequence: the last conversation id)
//	users/<user_id>/msgs/<conv id><msg id> = message record (its sequence: the last message id)
//
// so a user's messages are read in order with one cursor over their
// conversation's prefix, and Reset or a deleted user takes them along. The
// records are small JSON: they are read once per chat turn, never listed
// at the rate tasks are.
var (
	convsBucket = []byte("convs")
	msgsBucket  = []byte("msgs")
)

type convRecord struct {
	Title   string `json:"t"`
	Created int64  `json:"c"` // unix µs
	Updated int64  `json:"u"`
}

type msgRecord struct {
	Role      string          `json:"r"`
	Content   string          `json:"c"`
	ToolCalls json.RawMessage `json:"tc,omitempty"`
	At        int64           `json:"at"` // unix µs
}

func msgKey(conv, id uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, conv)
	binary.BigEndian.PutUint64(k[8:], id)
	return k
}

func (r convRecord) conversation(owner string, id uint64) store.Conversation {
	return store.Conversation{ID: id, UserID: owner, Title: r.Title,
		CreatedAt: time.UnixMicro(r.Created).UTC(), UpdatedAt: time.UnixMicro(r.Updated).UTC()}
}

func (r msgRecord) message(conv, id uint64) store.Message {
	return store.Message{ID: id, ConversationID: conv, Role: r.Role, Content: r.Content, ToolCalls: r.ToolCalls,
		CreatedAt: time.UnixMicro(r.At).UTC()}
}

// userChats are the owner's two chat buckets, nil when it has none.
func userChats(tx *bbolt.Tx, owner string) (convs, msgs *bbolt.Bucket) {
	users := tx.Bucket(usersBucket)
	if users == nil {
		return nil, nil
	}
	u := users.Bucket([]byte(owner))
	if u == nil {
		return nil, nil
	}
	return u.Bucket(convsBucket), u.Bucket(msgsBucket)
}

// conversation is userChats for a conversation that must exist.
func conversation(tx *bbolt.Tx, owner string, id uint64) (convs, msgs *bbolt.Bucket, err error) {
	convs, msgs = userChats(tx, owner)
	if convs == nil || convs.Get(idKey(id)) == nil {
		return nil, nil, store.ErrConversationNotFound
	}
	return convs, msgs, nil
}

// createUserChats opens the owner's two chat buckets in a write, creating
// them (and the user's bucket) when missing.
func createUserChats(tx *bbolt.Tx, owner string) (convs, msgs *bbolt.Bucket, err error) {
	// A user who has only chatted has no tasks bucket yet: the first task
	// write makes it, as it makes the indexes.
	u, err := tx.Bucket(usersBucket).CreateBucketIfNotExists([]byte(owner))
	if err != nil {
		return nil, nil, err
	}
	if convs, err = u.CreateBucketIfNotExists(convsBucket); err != nil {
		return nil, nil, err
	}
	msgs, err = u.CreateBucketIfNotExists(msgsBucket)
	return convs, msgs, err
}

// AddMessage implements store.ChatStore.
func (s *Store) AddMessage(ctx context.Context, owner string, id uint64, m store.NewMessage) (store.Conversation, store.Message, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return store.Conversation{}, store.Message{}, err
	}
	var (
		conv    store.Conversation
		msg     store.Message
		verdict idemVerdict
	)
	// A group commit may run this more than once; every run sets all three.
	err := s.writes.write(func(tx *bbolt.Tx) error {
		now := s.clock()
		var err error
		if verdict, err = idemCheck(tx, owner, m.Idem, now); err != nil || verdict.stop() {
			return err
		}
		if id != 0 { // an unknown conversation creates no bucket
			if _, _, err := conversation(tx, owner, id); err != nil {
				return err
			}
		}
		convs, msgs, err := createUserChats(tx, owner)
		if err != nil {
			return err
		}
		var rec convRecord
		convID := id
		if convID == 0 {
			if convID, err = convs.NextSequence(); err != nil {
				return err
			}
			rec = convRecord{Title: store.ConversationTitle(m.Content), Created: now.UnixMicro()}
		} else if err := json.Unmarshal(convs.Get(idKey(convID)), &rec); err != nil {
			return fmt.Errorf("conversation %d: %w", convID, err)
		}
		rec.Updated = now.UnixMicro()
		msgID, err := msgs.NextSequence()
		if err != nil {
			return err
		}
		mr := msgRecord{Role: m.Role, Content: m.Content, ToolCalls: m.ToolCalls, At: now.UnixMicro()}
		if err := putJSON(convs, idKey(convID), rec); err != nil {
			return err
		}
		if err := putJSON(msgs, msgKey(convID, msgID), mr); err != nil {
			return err
		}
		conv, msg = rec.conversation(owner, convID), mr.message(convID, msgID)
		if m.Idem != nil && m.Idem.Outcome != nil {
			return idemRecordOutcome(tx, owner, m.Idem, nil)
		}
		return nil
	})
	if err != nil {
		return store.Conversation{}, store.Message{}, classify(err)
	}
	return conv, msg, verdict.err()
}

func putJSON(b *bbolt.Bucket, k []byte, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, j)
}

// Conversations implements store.ChatStore.
func (s *Store) Conversations(ctx context.Context, owner string) ([]store.Conversation, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return nil, err
	}
	out := []store.Conversation{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		convs, _ := userChats(tx, owner)
		if convs == nil {
			return nil
		}
		return convs.ForEach(func(k, v []byte) error {
			var r convRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("conversation %d: %w", keyID(k), err)
			}
			out = append(out, r.conversation(owner, keyID(k)))
			return nil
		})
	})
	slices.SortFunc(out, func(a, b store.Conversation) int {
		return cmp.Or(b.UpdatedAt.Compare(a.UpdatedAt), cmp.Compare(b.ID, a.ID))
	})
	return out, classify(err)
}

// Messages implements store.ChatStore.
func (s *Store) Messages(ctx context.Context, owner string, id uint64) ([]store.Message, error) {
	if err := checkOwner(ctx, owner); err != nil {
		return nil, err
	}
	var out []store.Message
	err := s.db.View(func(tx *bbolt.Tx) error {
		_, msgs, err := conversation(tx, owner, id)
		if err != nil {
			return err
		}
		out, err = messagesOf(msgs, id)
		return err
	})
	return out, classify(err)
}

// messagesOf reads one conversation's messages, oldest first.
func messagesOf(msgs *bbolt.Bucket, conv uint64) ([]store.Message, error) {
	out := []store.Message{}
	if msgs == nil {
		return out, nil
	}
	prefix := idKey(conv)
	c := msgs.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var r msgRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("message %x: %w", k, err)
		}
		out = append(out, r.message(conv, binary.BigEndian.Uint64(k[8:])))
	}
	return out, nil
}

// DeleteConversation implements store.ChatStore.
func (s *Store) DeleteConversation(ctx context.Context, owner string, id uint64) error {
	if err := checkOwner(ctx, owner); err != nil {
		return err
	}
	err := s.writes.write(func(tx *bbolt.Tx) error {
		convs, msgs, err := conversation(tx, owner, id)
		if err != nil {
			return err
		}
		if err := convs.Delete(idKey(id)); err != nil {
			return err
		}
		return deleteMessages(msgs, id)
	})
	return classify(err)
}

func deleteMessages(msgs *bbolt.Bucket, conv uint64) error {
	if msgs == nil {
		return nil
	}
	prefix := idKey(conv)
	c := msgs.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// DumpChats implements store.ChatDumper, in one read transaction.
func (s *Store) DumpChats(ctx context.Context, fn func(owner string, convs []store.Conversation) error) error {
	return classify(s.db.View(func(tx *bbolt.Tx) error {
		users := tx.Bucket(usersBucket)
		return users.ForEachBucket(func(name []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			owner := string(name)
			convs, msgs := userChats(tx, owner)
			if convs == nil {
				return nil
			}
			var out []store.Conversation
			err := convs.ForEach(func(k, v []byte) error {
				var r convRecord
				if err := json.Unmarshal(v, &r); err != nil {
					return err
				}
				c := r.conversation(owner, keyID(k))
				var err error
				c.Messages, err = messagesOf(msgs, c.ID)
				out = append(out, c)
				return err
			})
			if err != nil {
				return fmt.Errorf("user %q: %w", owner, err)
			}
			if len(out) == 0 {
				return nil
			}
			return fn(owner, out)
		})
	}))
}

// LoadChats implements store.ChatDumper, in one transaction.
func (s *Store) LoadChats(ctx context.Context, owner string, convs []store.Conversation) error {
	if err := checkOwner(ctx, owner); err != nil {
		return err
	}
	return classify(s.writes.write(func(tx *bbolt.Tx) error {
		cb, mb, err := createUserChats(tx, owner)
		if err != nil {
			return err
		}
		for _, c := range convs {
			if c.ID == 0 {
				return fmt.Errorf("conversation without an id")
			}
			if err := deleteMessages(mb, c.ID); err != nil {
				return err
			}
			rec := convRecord{Title: c.Title, Created: c.CreatedAt.UnixMicro(), Updated: c.UpdatedAt.UnixMicro()}
			if err := putJSON(cb, idKey(c.ID), rec); err != nil {
				return err
			}
			if c.ID > cb.Sequence() {
				cb.SetSequence(c.ID)
			}
			for _, m := range c.Messages {
				if m.ID == 0 {
					return fmt.Errorf("conversation %d: a message without an id", c.ID)
				}
				mr := msgRecord{Role: m.Role, Content: m.Content, ToolCalls: m.ToolCalls, At: m.CreatedAt.UnixMicro()}
				if err := putJSON(mb, msgKey(c.ID, m.ID), mr); err != nil {
					return err
				}
				if m.ID > mb.Sequence() {
					mb.SetSequence(m.ID)
				}
			}
		}
		return nil
	}))
}

// checkChats verifies a user's conversations: every record reads, every
// message belongs to a conversation, and no id is above its counter.
func checkChats(user *bbolt.Bucket) error {
	convs, msgs := user.Bucket(convsBucket), user.Bucket(msgsBucket)
	if convs == nil && msgs == nil {
		return nil
	}
	if convs == nil || msgs == nil {
		return fmt.Errorf("convs and msgs buckets must come together")
	}
	err := convs.ForEach(func(k, v []byte) error {
		var r convRecord
		if len(k) != 8 || json.Unmarshal(v, &r) != nil {
			return fmt.Errorf("conversation record %x does not read", k)
		}
		if id := keyID(k); id == 0 || id > convs.Sequence() {
			return fmt.Errorf("conversation %d is above its counter %d", id, convs.Sequence())
		}
		return nil
	})
	if err != nil {
		return err
	}
	return msgs.ForEach(func(k, v []byte) error {
		var r msgRecord
		if len(k) != 16 || json.Unmarshal(v, &r) != nil || (r.Role != store.RoleUser && r.Role != store.RoleAssistant) {
			return fmt.Errorf("message record %x does not read", k)
		}
		conv, id := binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:])
		if convs.Get(k[:8]) == nil {
			return fmt.Errorf("message %d belongs to no conversation (%d)", id, conv)
		}
		if id == 0 || id > msgs.Sequence() {
			return fmt.Errorf("message %d is above its counter %d", id, msgs.Sequence())
		}
		return nil
	})
}
