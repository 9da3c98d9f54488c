"use client";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { authClient } from "@/lib/auth-client";
import type { Mode } from "@/lib/auth";
import { client, forgetToken, message, type Priority, type Task } from "@/lib/taskbolt";
import { subscribe } from "@/lib/events";

type Props = {
  userId: string; // whose tasks the URL names
  me: { id: string; name: string; email: string };
  mode: Mode;
  taskboltURL: string;
};

type Status = "all" | "pending" | "completed";
type Sort = "created" | "due_date" | "priority" | "title";
const priorities: Priority[] = ["none", "low", "medium", "high"];

export function Tasks({ userId, me, mode, taskboltURL }: Props) {
  const api = useMemo(() => client(mode, taskboltURL), [mode, taskboltURL]);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [total, setTotal] = useState(0);
  const [tags, setTags] = useState<string[]>([]);
  const [error, setError] = useState("");
  const [loaded, setLoaded] = useState(false);
  const [status, setStatus] = useState<Status>("all");
  const [priority, setPriority] = useState<Priority | "">("");
  const [tag, setTag] = useState("");
  const [sort, setSort] = useState<Sort>("created");
  const [editing, setEditing] = useState<{ id: number; etag: string } | null>(null);
  const [reminders, setReminders] = useState<string[]>([]);
  const [notify, setNotify] = useState<NotificationPermission | "unsupported">("unsupported");

  const path = { params: { path: { user_id: userId } } };
  const latest = useRef(0); // only the newest list request may update the page

  const refresh = useCallback(async () => {
    const seq = ++latest.current;
    const order = sort === "priority" || sort === "created" ? "desc" : "asc";
    const { data, error, response } = await api.GET("/api/{user_id}/tasks", {
      params: {
        path: { user_id: userId },
        query: { status, sort, order, priority: priority || undefined, tag: tag ? [tag] : undefined, limit: 100 },
      },
    });
    if (seq !== latest.current) return; // a newer request (another filter, a change) is on its way
    setLoaded(true);
    if (error !== undefined || !data) {
      setError(message(response.status, error));
      setTasks([]);
      return;
    }
    setError("");
    setTasks(data);
    setTotal(Number(response.headers.get("X-Total-Count") ?? data.length));
    const t = await api.GET("/api/{user_id}/tags", { params: { path: { user_id: userId } } });
    if (t.data && seq === latest.current) setTags(t.data.map((c) => c.name));
  }, [api, userId, status, priority, tag, sort]);

  useEffect(() => {
    refresh();
  }, [refresh]);
  // A change reloads with the filters of the moment it finishes, not of the
  // render that started it.
  const current = useRef(refresh);
  current.current = refresh;

  // Live: another tab's or device's change shows here without a reload; a
  // reminder shows as a browser notification, or in the page.
  useEffect(() => {
    setNotify(typeof Notification === "undefined" ? "unsupported" : Notification.permission);
    if (userId !== me.id) return; // another user's URL: taskbolt refuses its stream too
    return subscribe(mode, taskboltURL, userId, (e) => {
      if (e.type === "task.reminder") {
        const title = (e.data as Task).title;
        if (typeof Notification !== "undefined" && Notification.permission === "granted") {
          new Notification("Reminder", { body: title });
        }
        setReminders((r) => [...r, title]);
      }
      current.current();
    });
  }, [mode, taskboltURL, userId, me.id]);

  // run makes one change, shows a refusal, and reloads the list.
  async function run(change: Promise<{ error?: unknown; response: Response }>) {
    const { error, response } = await change;
    if (!response.ok) {
      setError(message(response.status, error));
      return false;
    }
    await current.current();
    return true;
  }

  async function add(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const formEl = e.currentTarget;
    const form = new FormData(formEl);
    const due = String(form.get("due") || "");
    const remind = String(form.get("remind") || "");
    const ok = await run(
      api.POST("/api/{user_id}/tasks", {
        ...path,
        // A retry of this very click (a timeout, a flaky network) cannot create a duplicate.
        headers: { "Idempotency-Key": crypto.randomUUID() },
        body: {
          title: String(form.get("title")),
          priority: form.get("priority") as Priority,
          tags: String(form.get("tags") || "").split(",").map((s) => s.trim()).filter(Boolean),
          // datetime-local is the browser's local time; taskbolt wants an offset or UTC.
          due_date: due ? new Date(due).toISOString() : null,
          remind_at: remind ? new Date(remind).toISOString() : null,
        },
      }),
    );
    if (ok) formEl.reset();
  }

  // Editing starts from the task's current version (its ETag); saving sends
  // it as If-Match, so a change made elsewhere meanwhile is not overwritten.
  async function startEdit(task: Task) {
    const { response } = await api.GET("/api/{user_id}/tasks/{id}", { params: { path: { user_id: userId, id: task.id } } });
    setEditing({ id: task.id, etag: response.headers.get("ETag") ?? "*" });
  }

  async function rename(task: Task, title: string) {
    if (!editing) return;
    const { error, response } = await api.PATCH("/api/{user_id}/tasks/{id}", {
      params: { path: { user_id: userId, id: task.id } },
      headers: { "If-Match": editing.etag },
      body: { title },
    });
    if (response.status === 412) {
      setEditing(null);
      await current.current(); // the latest version (a reload clears errors: show the message after it)
      setError("This task was changed elsewhere: here is the latest version. Edit it again.");
      return;
    }
    if (!response.ok) {
      setError(message(response.status, error));
      return;
    }
    setEditing(null);
    await current.current();
  }

  async function toggle(task: Task) {
    await run(api.PATCH("/api/{user_id}/tasks/{id}/complete", {
      params: { path: { user_id: userId, id: task.id } },
      headers: { "Idempotency-Key": crypto.randomUUID() }, // a retried toggle must not flip it back
    }));
  }

  async function signOut() {
    await authClient.signOut();
    forgetToken();
    window.location.assign("/sign-in");
  }

  const now = Date.now();
  return (
    <>
      <div className="row" style={{ justifyContent: "space-between" }}>
        <div>
          <h1>Tasks</h1>
          <p className="muted">
            Signed in as <strong data-testid="me">{me.name}</strong> ({me.email}) · taskbolt in <strong>{mode}</strong> mode
            {userId !== me.id && <> · viewing the URL of user {userId}</>}
          </p>
        </div>
        <button className="secondary" onClick={signOut}>Sign out</button>
      </div>

      {error && <p className="error" role="alert">{error}</p>}
      {reminders.length > 0 && (
        <div className="reminder" role="status" data-testid="reminders">
          {reminders.map((r, i) => <p key={i}>Reminder: {r}</p>)}
          <button className="secondary" onClick={() => setReminders([])}>Dismiss</button>
        </div>
      )}
      {notify === "default" && (
        <p className="muted">
          <button className="secondary" onClick={async () => setNotify(await Notification.requestPermission())}>Show reminders as notifications</button>
        </p>
      )}

      <form className="card row" onSubmit={add} aria-label="Add a task">
        <input type="text" name="title" placeholder="What needs doing?" aria-label="Title" required maxLength={200} />
        <select name="priority" aria-label="Priority" defaultValue="none">
          {priorities.map((p) => <option key={p} value={p}>{p === "none" ? "no priority" : p}</option>)}
        </select>
        <input type="text" name="tags" placeholder="tags, comma separated" aria-label="Tags" style={{ minWidth: "8rem", flex: 0.6 }} />
        <label className="muted">due <input type="datetime-local" name="due" aria-label="Due date" /></label>
        <label className="muted">remind <input type="datetime-local" name="remind" aria-label="Remind at" step="1" /></label>
        <button type="submit">Add</button>
      </form>

      <div className="card">
        <div className="row" style={{ marginBottom: ".5rem" }}>
          <label>Show
            <select aria-label="Status filter" value={status} onChange={(e) => setStatus(e.target.value as Status)}>
              <option value="all">all</option><option value="pending">pending</option><option value="completed">completed</option>
            </select>
          </label>
          <label>Priority
            <select aria-label="Priority filter" value={priority} onChange={(e) => setPriority(e.target.value as Priority | "")}>
              <option value="">any</option>
              {priorities.map((p) => <option key={p} value={p}>{p}</option>)}
            </select>
          </label>
          <label>Tag
            <select aria-label="Tag filter" value={tag} onChange={(e) => setTag(e.target.value)}>
              <option value="">any</option>
              {tags.map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
          </label>
          <label>Sort
            <select aria-label="Sort" value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
              <option value="created">newest</option><option value="due_date">due date</option>
              <option value="priority">priority</option><option value="title">title</option>
            </select>
          </label>
          <span className="muted" data-testid="count">{total} {total === 1 ? "task" : "tasks"}</span>
        </div>
        {loaded && tasks.length === 0 && !error && <p className="muted">Nothing here yet.</p>}
        <ul className="tasks">
          {tasks.map((t) => (
            <li key={t.id} className={t.completed ? "done" : ""} data-testid="task">
              <input
                type="checkbox"
                checked={t.completed}
                aria-label={`Complete ${t.title}`}
                onChange={() => toggle(t)}
              />
              <span className="title">
                {editing?.id === t.id ? (
                  <form className="row" onSubmit={(e) => { e.preventDefault(); rename(t, String(new FormData(e.currentTarget).get("title"))); }}>
                    <input type="text" name="title" defaultValue={t.title} aria-label="New title" autoFocus required />
                    <button type="submit">Save</button>
                    <button type="button" className="secondary" onClick={() => setEditing(null)}>Cancel</button>
                  </form>
                ) : (
                  <span className="title-text">{t.title}</span>
                )}
              </span>
              {t.priority !== "none" && <span className={`badge ${t.priority}`}>{t.priority}</span>}
              {t.tags.map((g) => <span key={g} className="tag">#{g}</span>)}
              {t.due_date && (
                <span className={`due ${!t.completed && Date.parse(t.due_date) < now ? "overdue" : ""}`}>
                  due {new Date(t.due_date).toLocaleString()}
                </span>
              )}
              {editing?.id !== t.id && <button className="secondary" onClick={() => startEdit(t)}>Edit</button>}
              <button
                className="danger"
                aria-label={`Delete ${t.title}`}
                onClick={() => run(api.DELETE("/api/{user_id}/tasks/{id}", { params: { path: { user_id: userId, id: t.id } } }))}
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      </div>
    </>
  );
}
