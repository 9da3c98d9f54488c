// `npm run dev`: taskbolt next to `next dev`, both stopped together. taskbolt
// comes from the taskbolt npm package (its binary is the optional dependency
// @taskbolt/<platform>-<arch>), so no Go is needed. It gets .env.local's
// settings as README.md's step 3 gives them by hand: the app's origin for
// CORS and the JWKS, cookie mode when TASKBOLT_MODE=cookie, and the address
// in TASKBOLT_URL; its data stays in ./taskbolt.db (DATABASE_URL moves it).
// Arguments go to `next dev` (`npm run dev -- -p 3001`).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const app = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// KEY=VALUE lines, # comments and quotes, as Next.js reads .env.local.
function readEnvFile(file) {
  if (!existsSync(file)) return {};
  const out = {};
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const m = line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (m) out[m[1]] = m[2].replace(/^(['"])(.*)\1$/, "$2");
  }
  return out;
}

const settings = { ...readEnvFile(path.join(app, ".env.local")), ...process.env };
const origin = settings.BETTER_AUTH_URL ?? "http://localhost:3000";
const taskboltURL = new URL(settings.TASKBOLT_URL ?? "http://localhost:8000");
const taskboltEnv = {
  ...settings,
  BETTER_AUTH_URL: origin,
  CORS_ORIGINS: settings.CORS_ORIGINS ?? origin,
  AUTH_COOKIES: settings.TASKBOLT_MODE === "cookie" ? "true" : "false",
  HOST: taskboltURL.hostname === "localhost" ? "127.0.0.1" : taskboltURL.hostname,
  PORT: taskboltURL.port || "8000",
  DATABASE_URL: settings.DATABASE_URL ?? path.join(app, "taskbolt.db"),
  TASKBOLT_ENV_FILE: "", // everything it reads is above
};

const children = [];
let stopping = false;
let status = 0;

// stop ends both, and this script with code once both have exited.
function stop(code) {
  if (!stopping) status = code;
  stopping = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(status);
}

function run(name, cmd, args, env) {
  const child = spawn(cmd, args, { cwd: app, env, stdio: "inherit" });
  child.on("error", (err) => {
    console.error(`dev: cannot start ${name}: ${err.message}`);
    stop(1);
  });
  child.on("exit", (code, signal) => {
    if (!stopping) console.error(`dev: ${name} exited (${signal ?? code}); stopping the other`);
    stop(code ?? 1);
  });
  children.push(child);
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => stop(0));
let bin;
try {
  bin = require("taskbolt").binaryPath();
} catch (err) {
  // In the taskbolt repository the packages are links into dist/npm.
  console.error(`dev: ${err.message}\nIn the taskbolt repository, run \`make npm-packages\` from its root first.`);
  process.exit(1);
}
console.log(`dev: taskbolt ${bin} on ${taskboltURL.origin}, next dev for ${origin}`);
run("taskbolt", bin, ["serve", "--dev"], taskboltEnv);
run("next dev", process.execPath, [require.resolve("next/dist/bin/next"), "dev", ...process.argv.slice(2)], process.env);
