"use client";
// Live updates from taskbolt's event stream (GET /api/{user_id}/events, SSE).
// Token mode cannot use EventSource (it sends no Authorization header), so it
// reads the stream with fetch; cookie mode uses EventSource, which sends the
// cookies and reconnects by itself. Both resume with Last-Event-ID.
import type { Mode } from "./auth";
import { bearerToken } from "./taskbolt";

export type TaskEvent = { id?: string; type: string; data: unknown };

export function subscribe(mode: Mode, taskboltURL: string, userId: string, onEvent: (e: TaskEvent) => void): () => void {
  const path = `/api/${encodeURIComponent(userId)}/events`;
  const names = ["task.created", "task.updated", "task.deleted", "task.reminder", "reset"];
  if (mode === "cookie") {
    const source = new EventSource(path, { withCredentials: true });
    for (const name of names) {
      source.addEventListener(name, (e) => onEvent({ id: (e as MessageEvent).lastEventId, type: name, data: JSON.parse((e as MessageEvent).data) }));
    }
    return () => source.close();
  }
  let stopped = false;
  let controller: AbortController | undefined;
  let lastId = "";
  (async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const token = await bearerToken();
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        if (token) headers.Authorization = `Bearer ${token}`;
        if (lastId) headers["Last-Event-ID"] = lastId;
        const res = await fetch(taskboltURL + path, { headers, signal: controller.signal });
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let id = "", type = "message", data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("id: ")) id = line.slice(4);
              else if (line.startsWith("event: ")) type = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (!data) continue; // a comment: keep-alive
            if (id) lastId = id;
            onEvent({ id, type, data: JSON.parse(data) });
          }
        }
      } catch {
        // a dropped stream, an expired token: reconnect below
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
