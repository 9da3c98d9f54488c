"use client";
import { useMemo, useState } from "react";
import type { Mode } from "@/lib/auth";
import { client, message, type ChatResponse } from "@/lib/taskbolt";

type Props = { userId: string; mode: Mode; taskboltURL: string };

type Line = { role: "user" | "assistant"; text: string; calls?: string[] };

// The task assistant (taskbolt's POST /api/{user_id}/chat): each turn may add,
// complete, change or delete tasks through the same tools an MCP client has,
// and the task list beside it shows those changes live from its event stream.
export function Chat({ userId, mode, taskboltURL }: Props) {
  const api = useMemo(() => client(mode, taskboltURL), [mode, taskboltURL]);
  const [conversation, setConversation] = useState<number | null>(null);
  const [lines, setLines] = useState<Line[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");

  async function send(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const formEl = e.currentTarget;
    const text = String(new FormData(formEl).get("message") ?? "").trim();
    if (!text) return;
    setLines((l) => [...l, { role: "user", text }]);
    setBusy(true);
    setError("");
    formEl.reset();
    const { data, error, response } = await api.POST("/api/{user_id}/chat", {
      params: { path: { user_id: userId } },
      // A retried send (a timeout, a flaky network) is answered from the first, not run twice.
      headers: { "Idempotency-Key": crypto.randomUUID() },
      body: { message: text, conversation_id: conversation },
    });
    setBusy(false);
    if (!response.ok || !data) {
      setError(message(response.status, error));
      return;
    }
    const answer = data as ChatResponse; // JSON: this request did not ask for an event stream
    setConversation(answer.conversation_id);
    const calls = answer.tool_calls.map((c) => `${c.name}${c.is_error ? " (refused)" : ""}`);
    setLines((l) => [...l, { role: "assistant", text: answer.response, calls }]);
  }

  return (
    <aside className="card chat" aria-label="Assistant">
      <div className="row" style={{ justifyContent: "space-between" }}>
        <h2>Assistant</h2>
        <button className="secondary" onClick={() => { setConversation(null); setLines([]); }}>New chat</button>
      </div>
      <ol className="chat-log" data-testid="chat-log">
        {lines.length === 0 && <li className="muted">Ask me to add, list, complete or delete tasks.</li>}
        {lines.map((l, i) => (
          <li key={i} className={l.role} data-testid={`chat-${l.role}`}>
            <span className="chat-text">{l.text}</span>
            {l.calls && l.calls.length > 0 && <span className="muted chat-calls"> · {l.calls.join(", ")}</span>}
          </li>
        ))}
        {busy && <li className="muted" data-testid="chat-busy">Working…</li>}
      </ol>
      {error && <p className="error" role="alert">{error}</p>}
      <form className="row" onSubmit={send} aria-label="Chat">
        <input type="text" name="message" aria-label="Message" placeholder="Add a task to buy milk" required maxLength={4000} />
        <button type="submit" disabled={busy}>Send</button>
      </form>
    </aside>
  );
}
