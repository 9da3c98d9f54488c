// Better Auth, configured for both ways of calling taskbolt. Server only.
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { jwt } from "better-auth/plugins";

export const auth = betterAuth({
  // Set it: tokens' iss and aud are its origin, and taskbolt checks them.
  baseURL: process.env.BETTER_AUTH_URL,
  // The secret taskbolt shares (cookie mode checks session cookies with it).
  secret: process.env.BETTER_AUTH_SECRET,
  database: new Database(process.env.AUTH_DB_FILE ?? "auth.sqlite"),
  emailAndPassword: { enabled: true, autoSignIn: true },
  session: {
    // Cookie mode: the signed session_data cookie lets taskbolt know the user
    // without calling back here. 5 minutes, Better Auth's default.
    cookieCache: { enabled: true, maxAge: 5 * 60 },
  },
  // Token mode: /api/auth/token hands out EdDSA JWTs (15 minutes) and
  // /api/auth/jwks publishes the keys taskbolt verifies them with.
  plugins: [jwt()],
});

// Creates Better Auth's tables on first use, so a fresh clone needs no
// migration step. (A real app runs `npx @better-auth/cli migrate` instead.)
let migrated: Promise<void> | undefined;
export function migrate(): Promise<void> {
  migrated ??= getMigrations(auth.options).then((m) => m.runMigrations());
  return migrated;
}

export type Mode = "token" | "cookie";

// The mode is read at run time, on the server, and handed to the page.
export function mode(): Mode {
  return process.env.TASKBOLT_MODE === "cookie" ? "cookie" : "token";
}

export function taskboltURL(): string {
  return (process.env.TASKBOLT_URL ?? "http://localhost:8000").replace(/\/$/, "");
}
