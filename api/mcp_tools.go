package api

import (
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/taskbolt/taskbolt/store"
)

// The five tools of CONTRACT.md "MCP", named as the Phase III spec names
// them. Their input schemas describe what the REST parsers accept (which
// stay the judge: a schema never refuses what they would take), and their
// output schemas what the results hold.
func (a *app) mcpTools() []mcpTool {
	yes := true
	return []mcpTool{
		{&mcp.Tool{
			Name:         "add_task",
			Description:  "Create a task for the signed-in user. Returns the new task's id, its title and the task.",
			InputSchema:  object(taskFields(true), "title"),
			OutputSchema: object(taskResultFields(true), "task_id", "status", "title", "task"),
			Annotations:  &mcp.ToolAnnotations{Title: "Add a task", DestructiveHint: new(bool)},
		}, a.addTask},
		{&mcp.Tool{
			Name: "list_tasks",
			Description: "List the signed-in user's tasks, newest first unless sort and order say otherwise. " +
				"Filters: status (all, pending, completed), q (words in the title or description), priority, tag, " +
				"due_before, due_after, overdue. Pages of limit (default 50, at most 100) from offset.",
			InputSchema:  object(listFields()),
			OutputSchema: object(map[string]any{"tasks": arrayOf(taskSchema()), "total": integer("How many tasks match, on every page.")}, "tasks", "total"),
			Annotations:  &mcp.ToolAnnotations{Title: "List tasks", ReadOnlyHint: true},
		}, a.listTool},
		{&mcp.Tool{
			Name:         "complete_task",
			Description:  "Mark one of the signed-in user's tasks completed. Completing a completed task changes nothing.",
			InputSchema:  object(map[string]any{"user_id": userIDSchema(), "task_id": taskIDSchema()}, "task_id"),
			OutputSchema: object(taskResultFields(true), "task_id", "status", "title", "task"),
			Annotations:  &mcp.ToolAnnotations{Title: "Complete a task", IdempotentHint: true, DestructiveHint: new(bool)},
		}, a.completeTool},
		{&mcp.Tool{
			Name:         "delete_task",
			Description:  "Delete one of the signed-in user's tasks, for good. Returns its id and title.",
			InputSchema:  object(map[string]any{"user_id": userIDSchema(), "task_id": taskIDSchema()}, "task_id"),
			OutputSchema: object(taskResultFields(false), "task_id", "status", "title"),
			Annotations:  &mcp.ToolAnnotations{Title: "Delete a task", DestructiveHint: &yes},
		}, a.deleteTool},
		{&mcp.Tool{
			Name:         "update_task",
			Description:  "Change one of the signed-in user's tasks: only the fields given change; description, due_date, remind_at and recurrence take null to clear them.",
			InputSchema:  object(updateFields(), "task_id"),
			OutputSchema: object(taskResultFields(true), "task_id", "status", "title", "task"),
			Annotations:  &mcp.ToolAnnotations{Title: "Update a task", DestructiveHint: new(bool)},
		}, a.updateTool},
	}
}

func object(properties map[string]any, required ...string) map[string]any {
	s := map[string]any{"type": "object", "properties": properties}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func arrayOf(items map[string]any) map[string]any {
	return map[string]any{"type": "array", "items": items}
}

func integer(description string) map[string]any {
	return map[string]any{"type": "integer", "description": description}
}

func str(description string) map[string]any {
	return map[string]any{"type": "string", "description": description}
}

// nullable is s, or null.
func nullable(s map[string]any) map[string]any {
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

func enum(values ...string) map[string]any { return map[string]any{"type": "string", "enum": values} }

func userIDSchema() map[string]any {
	return str("Optional. The signed-in user's id; any other id is refused. The user is always the one the credential names.")
}

func taskIDSchema() map[string]any { return integer("The task's id, as list_tasks shows it.") }

func dateTime(description string) map[string]any {
	return nullable(map[string]any{"type": "string", "format": "date-time", "description": description})
}

// taskFields are add_task's arguments; update_task's are the same, all
// optional.
func taskFields(withUser bool) map[string]any {
	f := map[string]any{
		"title":       map[string]any{"type": "string", "minLength": 1, "maxLength": store.MaxTitleLen},
		"description": nullable(map[string]any{"type": "string", "maxLength": store.MaxDescriptionLen}),
		"priority":    enum(store.Priorities...),
		"tags": map[string]any{"type": "array", "maxItems": store.MaxTags,
			"items": map[string]any{"type": "string", "minLength": 1, "maxLength": store.MaxTagLen}},
		"due_date":   dateTime("When the task is due: an RFC 3339 date-time, or a date (YYYY-MM-DD)."),
		"recurrence": nullable(enum(store.Recurrences...)),
		"remind_at":  dateTime("When to remind the user: an RFC 3339 date-time."),
	}
	if withUser {
		f["user_id"] = userIDSchema()
	}
	return f
}

func updateFields() map[string]any {
	f := taskFields(true)
	f["task_id"] = taskIDSchema()
	f["completed"] = map[string]any{"type": "boolean"}
	return f
}

func listFields() map[string]any {
	return map[string]any{
		"user_id":    userIDSchema(),
		"status":     enum(store.Statuses...),
		"q":          str("Words to find in the title or description, case-insensitive."),
		"priority":   map[string]any{"anyOf": []any{enum(store.Priorities...), arrayOf(enum(store.Priorities...))}},
		"tag":        map[string]any{"anyOf": []any{str("A tag the tasks carry."), arrayOf(str("Tags the tasks all carry."))}},
		"due_before": map[string]any{"type": "string", "format": "date-time"},
		"due_after":  map[string]any{"type": "string", "format": "date-time"},
		"overdue":    map[string]any{"type": "boolean"},
		"sort":       enum(store.SortKeys...),
		"order":      enum("asc", "desc"),
		"limit":      map[string]any{"type": "integer", "minimum": 1, "maximum": store.MaxLimit, "default": store.DefaultLimit},
		"offset":     map[string]any{"type": "integer", "minimum": 0, "default": 0},
	}
}

func taskResultFields(withTask bool) map[string]any {
	f := map[string]any{
		"task_id": integer("The task's id."),
		"status":  str("What was done: created, completed, updated or deleted."),
		"title":   str("The task's title."),
	}
	if withTask {
		f["task"] = taskSchema()
	}
	return f
}

// taskSchema is a task as the REST API serves it.
func taskSchema() map[string]any {
	ts := map[string]any{"type": "string", "format": "date-time"}
	return object(map[string]any{
		"id":          map[string]any{"type": "integer"},
		"user_id":     map[string]any{"type": "string"},
		"title":       map[string]any{"type": "string"},
		"description": nullable(map[string]any{"type": "string"}),
		"completed":   map[string]any{"type": "boolean"},
		"priority":    enum(store.Priorities...),
		"tags":        arrayOf(map[string]any{"type": "string"}),
		"due_date":    nullable(ts),
		"recurrence":  nullable(enum(store.Recurrences...)),
		"remind_at":   nullable(ts),
		"created_at":  ts,
		"updated_at":  ts,
	}, "id", "user_id", "title", "description", "completed", "priority", "tags", "due_date", "recurrence", "remind_at", "created_at", "updated_at")
}
