package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Conversations of the chat assistant (CONTRACT.md "Chat"): per owner,
// isolated like tasks, with ids per owner from 1 that are never reused.

// ErrConversationNotFound means the conversation does not exist for this
// owner; another owner's is, by design, the same answer.
var ErrConversationNotFound = errors.New("store: conversation not found")

// MaxConversationTitle is how much of its first message a conversation's
// title keeps, in code points.
const MaxConversationTitle = 80

// MaxChatMessage is the longest user message, in code points after
// trimming (CleanChatMessage).
const MaxChatMessage = 4000

// Conversation is one chat of an owner.
type Conversation struct {
	ID        uint64    `json:"id"`
	UserID    string    `json:"user_id"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"` // the last message's time
	// Messages are filled in only by exports (ChatDumper) and for
	// ChatDumper.LoadChats, oldest first.
	Messages []Message `json:"messages,omitempty"`
}

// Message roles.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one message of a conversation.
type Message struct {
	ID             uint64 `json:"id"`
	ConversationID uint64 `json:"conversation_id"`
	Role           string `json:"role"`
	Content        string `json:"content"`
	// ToolCalls is the JSON array of the tool calls an assistant message
	// made (CONTRACT.md's ChatResponse.tool_calls); nil for a user's.
	ToolCalls json.RawMessage `json:"tool_calls,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// NewMessage is the input of ChatStore.AddMessage.
type NewMessage struct {
	Role      string
	Content   string
	ToolCalls json.RawMessage // an assistant's, a JSON array
	// Idem, when set, is checked first: a key that already holds an outcome
	// replays it (*Replayed) or refuses a different request (ErrKeyReused),
	// and nothing is written. When Idem.Outcome is also set, the outcome is
	// recorded in the same write as the message (called with a nil task).
	Idem *Idempotency
}

// ConversationTitle is the title a conversation takes from its first
// message: the first MaxConversationTitle code points.
func ConversationTitle(first string) string {
	n := 0
	for i := range first {
		if n == MaxConversationTitle {
			return first[:i]
		}
		n++
	}
	return first
}

// ChatStore keeps conversations. Like Store, every method takes the owner
// and never reaches another owner's data.
type ChatStore interface {
	// AddMessage appends m to the owner's conversation id, or to a new
	// conversation titled by m when id is 0, and returns the conversation
	// (as updated) and the message stored.
	AddMessage(ctx context.Context, owner string, id uint64, m NewMessage) (Conversation, Message, error)
	// Conversations lists the owner's conversations, the most recently
	// active first.
	Conversations(ctx context.Context, owner string) ([]Conversation, error)
	// Messages lists one conversation's messages, oldest first.
	Messages(ctx context.Context, owner string, id uint64) ([]Message, error)
	// DeleteConversation deletes a conversation and its messages.
	DeleteConversation(ctx context.Context, owner string, id uint64) error
}

// ChatDumper exports and imports conversations with their messages, ids and
// times kept: a conversation with the same id is replaced, and the owner's
// counters are never lowered.
type ChatDumper interface {
	DumpChats(ctx context.Context, fn func(owner string, convs []Conversation) error) error
	LoadChats(ctx context.Context, owner string, convs []Conversation) error
}
