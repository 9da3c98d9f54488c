"use strict";
// taskbolt for JavaScript tests: startTaskbolt() runs a throwaway taskbolt
// on a free loopback port (its data in a temporary directory) and gives the
// URL, tokens for any user, a reset and a stop.
const { spawn } = require("node:child_process");
const { createHmac, randomBytes } = require("node:crypto");
const { mkdtempSync, rmSync, writeFileSync } = require("node:fs");
const { tmpdir } = require("node:os");
const path = require("node:path");
const readline = require("node:readline");

const pkgOf = () => {
  const os = process.platform;
  const cpu = process.arch;
  return { name: `@taskbolt/${os}-${cpu}`, exe: os === "win32" ? "taskbolt.exe" : "taskbolt" };
};

/** The path of this platform's taskbolt binary (TASKBOLT_BINARY overrides it). */
function binaryPath() {
  if (process.env.TASKBOLT_BINARY) return process.env.TASKBOLT_BINARY;
  const { name, exe } = pkgOf();
  try {
    // Beside this package, as npm installs it; else from the app's own
    // node_modules, where a linked install (file:, pnpm) leaves it.
    return require.resolve(`${name}/bin/${exe}`, { paths: [__dirname, process.cwd()] });
  } catch {
    throw new Error(
      `taskbolt: no binary for ${process.platform}-${process.arch}: the optional dependency ${name} is not installed. ` +
        `Reinstall without --omit=optional (or --no-optional), or set TASKBOLT_BINARY to a taskbolt binary.`,
    );
  }
}

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** An HS256 JWT for sub, signed with secret, as Better Auth's jwt() plugin with a shared secret signs them. */
function signToken(secret, sub, { ttl = 3600, claims = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ ...claims, sub, iat: now, exp: now + ttl })}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

/**
 * Start taskbolt for a test. Options: seed (a path to an export or seed file,
 * or the document itself), secret (BETTER_AUTH_SECRET; random by default),
 * adminToken (random by default), env (more settings), binary (a path).
 */
async function startTaskbolt(opts = {}) {
  const secret = opts.secret ?? randomBytes(32).toString("base64url");
  const adminToken = opts.adminToken ?? randomBytes(24).toString("hex");
  if (Buffer.byteLength(secret) < 32) throw new Error("startTaskbolt: secret must be at least 32 bytes");
  const dir = mkdtempSync(path.join(tmpdir(), "taskbolt-"));
  const args = ["serve"];
  if (opts.seed !== undefined) {
    let seed = opts.seed;
    if (typeof seed !== "string") {
      seed = path.join(dir, "seed.json");
      writeFileSync(seed, JSON.stringify(opts.seed));
    }
    args.push("--seed", seed);
  }
  const child = spawn(opts.binary ?? binaryPath(), args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      BETTER_AUTH_SECRET: secret, ADMIN_TOKEN: adminToken, HOST: "127.0.0.1", PORT: "0",
      DATABASE_URL: path.join(dir, "tasks.db"), TASKBOLT_ENV_FILE: "", LOG_LEVEL: "warn",
      ...opts.env,
    },
  });
  let log = "";
  child.stderr.on("data", (d) => { log = (log + d).slice(-8192); });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const url = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => fail(new Error("taskbolt did not start within 10 s")), 10000);
    function fail(err) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${err.message}\n${log}`));
    }
    lines.on("line", (line) => {
      if (line.startsWith("listening on ")) {
        clearTimeout(timer);
        child.stdout.resume(); // keep draining: a full pipe would block the server
        resolve(line.slice("listening on ".length).trim());
      }
    });
    child.once("error", fail);
    child.once("exit", (code) => fail(new Error(`taskbolt exited (${code}) before it listened`)));
  }).catch((err) => {
    cleanup();
    throw err;
  });
  let stopped;
  const stop = () =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      cleanup();
    })());
  return {
    url,
    secret,
    adminToken,
    token: (sub, options) => signToken(secret, sub, options),
    async reset() {
      const r = await fetch(`${url}/admin/reset`, { method: "POST", headers: { Authorization: `Bearer ${adminToken}` } });
      if (!r.ok) throw new Error(`taskbolt reset: ${r.status} ${await r.text()}`);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

module.exports = { startTaskbolt, binaryPath, signToken };
