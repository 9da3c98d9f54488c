#!/usr/bin/env node
// The taskbolt command: runs the binary of this platform's package
// (@taskbolt/<platform>-<arch>, an optional dependency npm installs only
// where it runs), with the arguments, the terminal and the exit status.
"use strict";
const { spawn } = require("node:child_process");
const { binaryPath } = require("../index.cjs");

let bin;
try {
  bin = binaryPath();
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
const child = spawn(bin, process.argv.slice(2), { stdio: "inherit" });
// Ctrl-C and a stop reach taskbolt, which shuts down cleanly; we exit as it does.
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
child.on("error", (err) => {
  console.error(`taskbolt: cannot run ${bin}: ${err.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
