// The browser test: taskbolt and this example (built with `next build`) on
// 127.0.0.1, driven through Debian's Chromium with playwright-core, in token
// mode and in cookie mode. `make e2e` from the repository root runs it.
//
// Env: TASKBOLT_BIN (default ../../bin/taskbolt), MODEL_BIN (../../bin/scriptedmodel:
// the scripted OpenAI-compatible model the chat panel talks to), CHROMIUM (/usr/bin/chromium),
// TASKBOLT_PORT (18080; the port `next build` baked into the rewrites),
// APP_PORT (13080), EVIL_PORT (13081), MODEL_PORT (18081), MODES (token,cookie), ARTIFACTS (e2e/artifacts).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const example = path.resolve(here, "..");
const env = process.env;
const bin = path.resolve(example, env.TASKBOLT_BIN ?? "../../bin/taskbolt");
const modelBin = path.resolve(example, env.MODEL_BIN ?? "../../bin/scriptedmodel");
const modelPort = Number(env.MODEL_PORT ?? 18081);
const tbPort = Number(env.TASKBOLT_PORT ?? 18080);
const appPort = Number(env.APP_PORT ?? 13080);
const evilPort = Number(env.EVIL_PORT ?? 13081);
const modes = (env.MODES ?? "token,cookie").split(",");
const artifacts = path.resolve(example, env.ARTIFACTS ?? "e2e/artifacts");
const app = `http://localhost:${appPort}`;
const taskbolt = `http://127.0.0.1:${tbPort}`;
const evil = `http://localhost:${evilPort}`;

// Everything started here stops by itself: on exit, and after 10 minutes.
const children = new Set();
function stopAll() {
  for (const c of children) c.kill("SIGTERM");
}
process.on("exit", stopAll);
setTimeout(() => {
  console.error("e2e: timed out after 10 minutes");
  process.exit(1);
}, 10 * 60 * 1000).unref();

function start(name, cmd, args, extraEnv) {
  const child = spawn(cmd, args, { cwd: example, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const log = [];
  const keep = (d) => log.push(String(d));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.on("exit", () => children.delete(child));
  child.dumpLog = () => console.error(`---- ${name} log ----\n${log.join("")}`);
  child.stopped = new Promise((resolve) => child.on("exit", resolve));
  return child;
}

async function waitFor(url, child) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break;
    try {
      const r = await fetch(url, { redirect: "manual" });
      if (r.status < 500) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  child.dumpLog();
  throw new Error(`${url} did not answer`);
}

function check(ok, what) {
  if (!ok) throw new Error(`FAILED: ${what}`);
  console.log(`  ok  ${what}`);
}

// A page on another origin of the same site (localhost, another port): a
// classic CSRF, a form POST the browser sends with the app's cookies.
function evilServer() {
  const server = http.createServer((req, res) => {
    const target = new URL(req.url, evil).searchParams.get("target");
    res.setHeader("Content-Type", "text/html");
    res.end(`<!doctype html><form method="POST" enctype="text/plain" action="${target}">
      <input name='{"title":"planted by another site","x":"' value='"}'></form>
      <script>document.forms[0].submit()</script>`);
  });
  return new Promise((resolve) => server.listen(evilPort, "127.0.0.1", () => resolve(server)));
}

async function signUp(page, name, email) {
  await page.goto(app + "/");
  await page.waitForURL("**/sign-in");
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct-horse-battery");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL("**/u/**");
  await page.getByTestId("me").waitFor();
  return decodeURIComponent(new URL(page.url()).pathname.split("/")[2]);
}

// titles are the task titles the page shows, once it has loaded its list
// (an open event stream means the network is never idle).
async function titles(page) {
  await page.getByTestId("count").waitFor();
  return page.getByTestId("task").locator(".title-text").allTextContents();
}

async function expectTitles(page, want, what) {
  let got = [];
  for (let i = 0; i < 50; i++) {
    got = await titles(page);
    if (JSON.stringify(got) === JSON.stringify(want)) break;
    await page.waitForTimeout(100);
  }
  check(JSON.stringify(got) === JSON.stringify(want), `${what}: ${JSON.stringify(got)}`);
}

async function addTask(page, title, { priority = "none", tags = "", due = "" } = {}) {
  const form = page.getByRole("form", { name: "Add a task" });
  await form.getByLabel("Title").fill(title);
  await form.getByLabel("Priority").selectOption(priority);
  await form.getByLabel("Tags").fill(tags);
  if (due) await form.getByLabel("Due date").fill(due);
  await form.getByRole("button", { name: "Add" }).click();
  await page.getByText(title, { exact: true }).waitFor();
}

async function runMode(browser, mode) {
  console.log(`== ${mode} mode`);
  const started = Date.now();
  const dir = mkdtempSync(path.join(tmpdir(), `taskbolt-e2e-${mode}-`));
  const secret = randomBytes(32).toString("base64");
  const next = start("next", "node_modules/.bin/next", ["start", "-H", "127.0.0.1", "-p", String(appPort)], {
    BETTER_AUTH_SECRET: secret, BETTER_AUTH_URL: app, AUTH_DB_FILE: path.join(dir, "auth.sqlite"),
    TASKBOLT_MODE: mode, TASKBOLT_URL: taskbolt, NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production",
  });
  await waitFor(`${app}/sign-in`, next);
  const tb = start("taskbolt", bin, ["serve"], {
    BETTER_AUTH_SECRET: secret, BETTER_AUTH_URL: app, CORS_ORIGINS: app, HOST: "127.0.0.1", PORT: String(tbPort),
    DATABASE_URL: path.join(dir, "tasks.db"), TASKBOLT_ENV_FILE: "", LOG_LEVEL: "warn",
    AUTH_COOKIES: mode === "cookie" ? "true" : "false", MCP: "true",
    // A local OpenAI-compatible server needs no key: the base URL alone turns chat on.
    OPENAI_BASE_URL: `http://127.0.0.1:${modelPort}/v1`, OPENAI_API_KEY: "", CHAT_MODEL: "scripted",
  });
  try {
    await waitFor(`${taskbolt}/healthz`, tb);
    const shot = (page, name) => page.screenshot({ path: path.join(artifacts, `${mode}-${name}.png`), fullPage: true });

    // User A signs up and works with tasks through the UI.
    const ctxA = await browser.newContext();
    const a = await ctxA.newPage();
    const alice = await signUp(a, "Alice", `alice-${mode}@example.com`);
    check(/^[A-Za-z0-9]{32}$/.test(alice), `Alice signed up, user id ${alice}`);
    await addTask(a, "Buy milk", { priority: "high", tags: "home, errand", due: "2031-01-15T09:30" });
    await addTask(a, "Write report", { priority: "medium", tags: "work" });
    await addTask(a, "Call mom", { priority: "low", tags: "home" });
    await expectTitles(a, ["Call mom", "Write report", "Buy milk"], "three tasks, newest first");
    await a.getByLabel("Complete Call mom").click(); // controlled: checked once taskbolt answers
    await a.locator('input[aria-label="Complete Call mom"]:checked').waitFor();
    await a.getByTestId("task").filter({ hasText: "Write report" }).getByRole("button", { name: "Edit" }).click();
    await a.getByLabel("New title").fill("Write the report");
    await a.getByRole("button", { name: "Save" }).click();
    await expectTitles(a, ["Call mom", "Write the report", "Buy milk"], "renamed in place");
    check(await a.getByLabel("Complete Call mom").isChecked(), "Call mom is completed");
    await a.getByLabel("Status filter").selectOption("completed");
    await expectTitles(a, ["Call mom"], "filter: completed");
    await a.getByLabel("Status filter").selectOption("pending");
    await expectTitles(a, ["Write the report", "Buy milk"], "filter: pending");
    await a.getByLabel("Status filter").selectOption("all");
    await a.getByLabel("Priority filter").selectOption("high");
    await expectTitles(a, ["Buy milk"], "filter: priority high");
    await a.getByLabel("Priority filter").selectOption("");
    await a.getByLabel("Tag filter").selectOption("home");
    await expectTitles(a, ["Call mom", "Buy milk"], "filter: tag home");
    await a.getByLabel("Tag filter").selectOption("");
    await a.getByLabel("Sort").selectOption("title");
    await expectTitles(a, ["Buy milk", "Call mom", "Write the report"], "sort: title");
    await a.getByLabel("Sort").selectOption("due_date");
    await expectTitles(a, ["Buy milk", "Write the report", "Call mom"], "sort: due date, undated last (by id)");
    check((await a.getByTestId("task").filter({ hasText: "Buy milk" }).locator(".due").textContent()).includes("2031"), "the due date is shown");
    await shot(a, "tasks");
    await a.getByLabel("Delete Call mom").click();
    await a.getByLabel("Sort").selectOption("created");
    await expectTitles(a, ["Write the report", "Buy milk"], "deleted");

    // Reload keeps them: they live in taskbolt.
    await a.reload();
    await expectTitles(a, ["Write the report", "Buy milk"], "after a reload");

    // Fifteen reloads in ten seconds (a user, or `next dev` hot-reloading):
    // each opens a new event stream and drops the last, and a closed stream
    // frees its place at once, so the 10 streams a user may hold never run out.
    const reloadsBegan = Date.now();
    for (let i = 1; i <= 15; i++) {
      await a.reload();
      await a.getByTestId("count").waitFor();
      await a.waitForTimeout(Math.max(0, i * 600 - (Date.now() - reloadsBegan)));
    }
    const reloadSeconds = (Date.now() - reloadsBegan) / 1000;
    check(reloadSeconds <= 10, `15 reloads in ${reloadSeconds.toFixed(1)} s`);

    // Two tabs of one user: a change in one shows in the other, live.
    const a2 = await ctxA.newPage();
    await a2.goto(`${app}/u/${alice}`);
    await expectTitles(a2, ["Write the report", "Buy milk"], "the second tab");
    await a2.waitForTimeout(300); // its event stream is open
    const sentAt = Date.now();
    await addTask(a, "Added in tab one");
    await a2.getByText("Added in tab one", { exact: true }).waitFor({ timeout: 1000 });
    check(true, `tab two showed tab one's new task ${Date.now() - sentAt} ms after the click, without a reload`);
    const backAt = Date.now();
    await addTask(a2, "Added in tab two");
    await a.getByText("Added in tab two", { exact: true }).waitFor({ timeout: 1000 });
    check(true, `the tab reloaded 15 times still receives events: tab two's task showed ${Date.now() - backAt} ms after the click`);

    // An agent adds a task through taskbolt's MCP tools with Alice's token: the open tab shows it, live.
    const { token } = await a.evaluate(async () => (await fetch("/api/auth/token")).json());
    const agentAt = Date.now();
    const rpc = await fetch(`${taskbolt}/mcp`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json", "Mcp-Protocol-Version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "add_task", arguments: { user_id: alice, title: "Added by an agent" } } }),
    });
    const result = await rpc.json();
    check(rpc.status === 200 && result.result?.structuredContent?.status === "created", `add_task over MCP: ${rpc.status} ${JSON.stringify(result).slice(0, 120)}`);
    await a2.getByText("Added by an agent", { exact: true }).waitFor({ timeout: 1000 });
    check(true, `the open tab showed the agent's task ${Date.now() - agentAt} ms after the tool call, without a reload`);
    await a2.getByLabel("Delete Added by an agent").click();
    await a.getByText("Added by an agent", { exact: true }).waitFor({ state: "detached", timeout: 1000 });

    // The chat panel: the assistant adds a task, then completes it by name (it lists first);
    // both tabs' lists show each change live, from the tools' events.
    const say = async (text, answer) => {
      const chat = a.getByRole("complementary", { name: "Assistant" });
      await chat.getByLabel("Message").fill(text);
      await chat.getByRole("button", { name: "Send" }).click();
      await chat.getByTestId("chat-assistant").filter({ hasText: answer }).waitFor({ timeout: 5000 });
      return (await chat.getByTestId("chat-assistant").last().locator(".chat-calls").textContent()) ?? "";
    };
    const chatAt = Date.now();
    let calls = await say("add Water the plants", `I've added "Water the plants".`);
    check(calls.includes("add_task"), `the assistant added a task (${calls.trim()}) in ${Date.now() - chatAt} ms`);
    await a.getByTestId("task").filter({ hasText: "Water the plants" }).waitFor({ timeout: 1000 });
    await a2.getByText("Water the plants", { exact: true }).waitFor({ timeout: 1000 });
    check(true, "both tabs' lists show the assistant's task without a reload");
    calls = await say("complete Water the plants", "Done: Water the plants.");
    check(calls.includes("list_tasks") && calls.includes("complete_task"), `the assistant completed it by name (${calls.trim()})`);
    await a.locator('input[aria-label="Complete Water the plants"]:checked').waitFor({ timeout: 1000 });
    await a2.locator('input[aria-label="Complete Water the plants"]:checked').waitFor({ timeout: 1000 });
    check(true, "the completion shows in both tabs, live");
    const convs = await a.evaluate(async ([mode, url, tb]) => {
      const headers = mode === "cookie" ? {} : { Authorization: `Bearer ${(await (await fetch("/api/auth/token")).json()).token}` };
      const base = mode === "cookie" ? "" : tb;
      const list = await (await fetch(`${base}/api/${url}/conversations`, { headers, credentials: "same-origin" })).json();
      const msgs = await (await fetch(`${base}/api/${url}/conversations/${list[0].id}/messages`, { headers, credentials: "same-origin" })).json();
      return { list, msgs };
    }, [mode, alice, taskbolt]);
    check(convs.list.length === 1 && convs.list[0].title === "add Water the plants" && convs.msgs.length === 4,
      `the conversation is stored: "${convs.list[0]?.title}", ${convs.msgs.length} messages`);
    await shot(a, "chat");
    await a.getByLabel("Delete Water the plants").click();
    await a2.getByText("Water the plants", { exact: true }).waitFor({ state: "detached", timeout: 1000 });

    // Edits carry If-Match: a change made elsewhere meanwhile is not overwritten.
    await a2.getByTestId("task").filter({ hasText: "Write the report" }).getByRole("button", { name: "Edit" }).click();
    await a2.getByLabel("New title").waitFor();
    await a.getByTestId("task").filter({ hasText: "Write the report" }).getByRole("button", { name: "Edit" }).click();
    await a.getByLabel("New title").fill("Write the final report");
    await a.getByRole("button", { name: "Save" }).click();
    await a.getByText("Write the final report", { exact: true }).waitFor();
    await a2.getByLabel("New title").fill("A stale edit");
    await a2.getByRole("button", { name: "Save" }).click();
    const stale = a2.locator("p.error[role=alert]");
    await stale.waitFor();
    check((await stale.textContent()).includes("changed elsewhere"), `a stale edit is refused: "${await stale.textContent()}"`);
    await a2.getByText("Write the final report", { exact: true }).waitFor();
    check((await a2.getByText("A stale edit").count()) === 0, "the stale edit overwrote nothing");
    await shot(a2, "changed-elsewhere");

    // A reminder arrives on the stream and shows in the page.
    const remindAt = new Date(Date.now() + 2000).toISOString().slice(0, 19); // the browser's local time is UTC here
    const form = a.getByRole("form", { name: "Add a task" });
    await form.getByLabel("Remind at").fill(remindAt);
    await addTask(a, "Stretch");
    await a.getByTestId("reminders").getByText("Reminder: Stretch").waitFor({ timeout: 9000 });
    check(true, "the reminder showed in the page");
    await shot(a, "reminder");
    await a2.close();
    await a.getByLabel("Delete Added in tab one").click();
    await a.getByLabel("Delete Added in tab two").click();
    await a.getByLabel("Delete Stretch").click();
    await expectTitles(a, ["Write the final report", "Buy milk"], "back to two tasks");

    // User B sees none of A's, and A's URL is refused.
    const ctxB = await browser.newContext();
    const b = await ctxB.newPage();
    const bob = await signUp(b, "Bob", `bob-${mode}@example.com`);
    check(bob !== alice, "Bob is another user");
    await expectTitles(b, [], "Bob has no tasks");
    await b.goto(`${app}/u/${alice}`);
    const refusal = b.locator("p.error[role=alert]");
    await refusal.waitFor();
    const text = await refusal.textContent();
    check(text.includes("403") && text.includes("Not authorized to access these tasks"), `Bob on Alice's URL: "${text}"`);
    await expectTitles(b, [], "Bob sees none of Alice's tasks there");
    await shot(b, "forbidden");

    // A page of another origin posts to A's task list with A's browser.
    const e = await ctxA.newPage();
    const target = mode === "cookie" ? `${app}/api/${alice}/tasks` : `${taskbolt}/api/${alice}/tasks`;
    const [answer] = await Promise.all([
      e.waitForResponse((r) => r.url() === target && r.request().method() === "POST"),
      e.goto(`${evil}/?target=${encodeURIComponent(target)}`),
    ]);
    const body = await answer.text();
    if (mode === "cookie") {
      check(answer.status() === 403 && body.includes("Cross-site request refused"), `a cross-site POST with Alice's cookies: ${answer.status()} ${body}`);
    } else {
      check(answer.status() === 401, `a cross-site POST without a token: ${answer.status()} ${body}`);
    }
    await e.close();
    await a.reload();
    await expectTitles(a, ["Write the final report", "Buy milk"], "nothing was planted");

    // Sign-out ends access.
    await a.getByRole("button", { name: "Sign out" }).click();
    await a.waitForURL("**/sign-in");
    await shot(a, "signed-out");
    const after = await a.evaluate(async (url) => (await fetch(url, { credentials: "same-origin" })).status,
      mode === "cookie" ? `/api/${alice}/tasks` : `${taskbolt}/api/${alice}/tasks`);
    check(after === 401, `the task API after sign-out: ${after}`);
    await a.goto(`${app}/u/${alice}`);
    await a.waitForURL("**/sign-in");
    check(true, "Alice's page sends a signed-out browser to sign in");
    await ctxA.close();
    await ctxB.close();
    console.log(`== ${mode} mode passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    tb.dumpLog();
    next.dumpLog();
    throw err;
  } finally {
    tb.kill("SIGTERM");
    next.kill("SIGTERM");
    await Promise.all([tb.stopped, next.stopped]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const t0 = Date.now();
mkdirSync(artifacts, { recursive: true });
const model = start("scriptedmodel", modelBin, ["-addr", `127.0.0.1:${modelPort}`, "-for", "15m"]);
await waitFor(`http://127.0.0.1:${modelPort}/v1/models`, model);
const server = await evilServer();
const browser = await chromium.launch({
  executablePath: env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  // playwright-core also gives the browser a fresh, temporary --user-data-dir.
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run"],
});
try {
  for (const mode of modes) await runMode(browser, mode);
  console.log(`e2e passed (${modes.join(", ")}) in ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${path.relative(process.cwd(), artifacts)}`);
} finally {
  await browser.close();
  server.close();
  model.kill("SIGTERM");
}
