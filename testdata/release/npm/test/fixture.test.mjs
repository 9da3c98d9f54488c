// Run by testdata/release/npm-test.sh in a fresh project that installed the
// packed tarballs offline: the launcher and the fixture, as a user has them.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { startTaskbolt } from "taskbolt";

const json = (tb, user, method, p, body) =>
  fetch(`${tb.url}/api/${user}${p}`, {
    method,
    headers: { Authorization: `Bearer ${tb.token(user)}`, "Content-Type": "application/json" },
    body: body && JSON.stringify(body),
  });

test("startTaskbolt: a throwaway server with tokens, reset and stop", async () => {
  const tb = await startTaskbolt({ seed: { users: [{ user_id: "alice", tasks: [{ title: "seeded" }] }] } });
  expect(tb.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  let r = await json(tb, "alice", "POST", "/tasks", { title: "Buy milk" });
  expect(r.status).toBe(201);
  r = await json(tb, "alice", "GET", "/tasks");
  expect((await r.json()).map((t) => t.title)).toEqual(["Buy milk", "seeded"]);
  r = await fetch(`${tb.url}/api/alice/tasks`, { headers: { Authorization: `Bearer ${tb.token("bob")}` } });
  expect(r.status).toBe(403);
  expect(await r.json()).toEqual({ detail: "Not authorized to access these tasks" });
  await tb.reset();
  r = await json(tb, "alice", "GET", "/tasks");
  expect(await r.json()).toEqual([]);
  await tb.stop();
  await expect(fetch(`${tb.url}/healthz`)).rejects.toThrow();
});

test("two fixtures side by side do not share data", async () => {
  const [a, b] = await Promise.all([startTaskbolt(), startTaskbolt()]);
  await json(a, "alice", "POST", "/tasks", { title: "only in a" });
  expect(await (await json(b, "alice", "GET", "/tasks")).json()).toEqual([]);
  await Promise.all([a.stop(), b.stop()]);
});

test("npx taskbolt --help prints the command overview", () => {
  const out = execFileSync("npx", ["--no-install", "taskbolt", "--help"], { encoding: "utf8" });
  expect(out).toContain("taskbolt — the Better Auth todo API");
  expect(out).toContain("taskbolt token --sub USER");
});

test("taskbolt serve --dev answers, and the launcher stops with it on SIGTERM", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "taskbolt-dev-"));
  // The launcher npx runs, in the project (--dev writes a development secret
  // to ./.env there); npx itself re-raises the signal it gets, so the launcher's
  // own exit status is what this checks.
  const child = spawn("node_modules/.bin/taskbolt", ["serve", "--dev"], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DATABASE_URL: path.join(dir, "tasks.db") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let errors = "";
  child.stderr.on("data", (d) => { errors += d; });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${out} ${errors}`)));
  });
  const r = await fetch(`${url}/healthz`);
  expect((await r.json()).status).toBe("ok");
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)));
  child.kill("SIGTERM");
  expect(await exited).toBe(0); // taskbolt shut down cleanly, and the launcher exited as it did
  await expect(fetch(`${url}/healthz`)).rejects.toThrow();
});
