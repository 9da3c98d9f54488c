// The check of `npm run dev`: it starts taskbolt from the taskbolt npm package
// (the binary of the platform package, no Go involved) next to `next dev`,
// with .env.local's kind of settings, both answer, and a stop ends both.
// `make e2e` runs it (after `make release` for this platform in dist/, which
// the example's package.json links).
// Env: DEV_TASKBOLT_PORT (18090), DEV_APP_PORT (13090).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tbPort = Number(process.env.DEV_TASKBOLT_PORT ?? 18090);
const appPort = Number(process.env.DEV_APP_PORT ?? 13090);
const data = mkdtempSync(path.join(tmpdir(), "taskbolt-dev-"));

function check(ok, what) {
  if (!ok) throw new Error(`FAILED: ${what}`);
  console.log(`  ok  ${what}`);
}

async function answers(url, seconds) {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    try {
      return await fetch(url, { redirect: "manual" });
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

const env = {
  ...process.env,
  NEXT_TELEMETRY_DISABLED: "1",
  BETTER_AUTH_SECRET: randomBytes(32).toString("base64"),
  BETTER_AUTH_URL: `http://localhost:${appPort}`,
  TASKBOLT_URL: `http://127.0.0.1:${tbPort}`,
  TASKBOLT_MODE: "token",
  AUTH_DB_FILE: path.join(data, "auth.sqlite"),
  DATABASE_URL: path.join(data, "taskbolt.db"),
};
delete env.TASKBOLT_BINARY; // the package's own binary, whatever the caller's environment says
// Its own process group, as in a terminal: the stop below is Ctrl-C's, a
// SIGINT to the whole group.
const dev = spawn("npm", ["run", "dev", "--", "-p", String(appPort)], {
  cwd: example, env, stdio: ["ignore", "pipe", "pipe"], detached: true,
});
const killAll = (sig) => {
  try {
    process.kill(-dev.pid, sig);
  } catch {}
};
let log = "";
dev.stdout.on("data", (d) => (log += d));
dev.stderr.on("data", (d) => (log += d));
const exited = new Promise((resolve) => dev.on("exit", resolve));
const timer = setTimeout(() => {
  console.error(`e2e dev: timed out\n${log}`);
  killAll("SIGKILL");
  process.exit(1);
}, 180_000);

try {
  const health = await answers(`http://127.0.0.1:${tbPort}/healthz`, 30);
  check(health?.status === 200, "npm run dev: taskbolt answers /healthz");
  const bin = log.match(/^dev: taskbolt (\S+) on /m)?.[1];
  const pkg = bin && JSON.parse(readFileSync(path.join(path.dirname(path.dirname(bin)), "package.json"), "utf8"));
  check(pkg?.name === `@taskbolt/${process.platform}-${process.arch}`, `taskbolt is the binary of the package ${pkg?.name} (${bin})`);
  const page = await answers(`http://localhost:${appPort}/sign-in`, 120);
  check(page?.status === 200, `next dev answers /sign-in (${page?.status})`);
  killAll("SIGINT");
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running"), 15000))]);
  check(code !== "still running", `Ctrl-C ends npm run dev (exit ${code})`);
  check((await answers(`http://127.0.0.1:${tbPort}/healthz`, 1)) === null, "and taskbolt with it");
  check((await answers(`http://localhost:${appPort}/sign-in`, 1)) === null, "and next dev with it");
} catch (err) {
  console.error(`${err.message}\n---- npm run dev log ----\n${log}`);
  killAll("SIGKILL");
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  rmSync(data, { recursive: true, force: true });
}
