// A real Better Auth (1.7.25) on 127.0.0.1 for taskbolt's interop tests.
//
//   MODE=eddsa|es256|es512|rs256|ps256  jwt() plugin, that key type (tokens at /api/auth/token)
//   MODE=hs256                          jwt() plugin with a jwt.sign hook: HS256 with BETTER_AUTH_SECRET
//   MODE=session                        bearer() plugin only: opaque session tokens
//   MODE=cookies                        no plugin: the session cookies alone (cookie mode)
//   MODE=oauth                          jwt() and @better-auth/oauth-provider: an OAuth 2.1 server whose
//                                       access tokens are for the resource OAUTH_RESOURCE (taskbolt's /mcp)
//
// COOKIE_CACHE=compact|jwt|jwe|plugin turns the session cookie cache on with that strategy
// ("plugin": the jwt() plugin's sessionCookieCache, a session-cache JWT signed by its key);
// COOKIE_MAX_AGE (seconds) is its Max-Age, COOKIE_PREFIX sets advanced.cookiePrefix and
// SECURE_COOKIES=true advanced.useSecureCookies (the __Secure- names).
//
// Env: BETTER_AUTH_SECRET (required), BETTER_AUTH_SECRETS ("2:new,1:old", read by Better Auth
// itself; its first entry then signs, BETTER_AUTH_SECRET is the legacy fallback), DB_FILE (a fresh SQLite file), PORT (0: any),
// ROTATION_INTERVAL and GRACE_PERIOD (seconds; key rotation for the asymmetric modes).
// Prints "ready <base URL>" once it serves. Runs as NODE_ENV=production would: the
// origin check is on and the rate limiter is off.
import http from "node:http";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { bearer, jwt } from "better-auth/plugins";
import { oauthProvider } from "@better-auth/oauth-provider";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";
import { SignJWT } from "jose";

const mode = process.env.MODE ?? "eddsa";
const secret = process.env.BETTER_AUTH_SECRET;
if (!secret || !process.env.DB_FILE) throw new Error("BETTER_AUTH_SECRET and DB_FILE are required");
// The secret Better Auth signs with: BETTER_AUTH_SECRETS's first entry when it is set.
const current = process.env.BETTER_AUTH_SECRETS
  ? process.env.BETTER_AUTH_SECRETS.split(",")[0].trim().replace(/^\d+:/, "").trim()
  : secret;

const keyPairs = {
  eddsa: { alg: "EdDSA", crv: "Ed25519" },
  es256: { alg: "ES256" },
  es512: { alg: "ES512" },
  rs256: { alg: "RS256", modulusLength: 2048 },
  ps256: { alg: "PS256", modulusLength: 2048 },
};

function plugins(baseURL) {
  const seconds = (name) => (process.env[name] ? Number(process.env[name]) : undefined);
  if (mode === "session") return [bearer()];
  if (mode === "oauth") {
    const resources = [process.env.OAUTH_RESOURCE, process.env.OAUTH_OTHER_RESOURCE].filter(Boolean);
    return [
      jwt(),
      oauthProvider({
        loginPage: "/sign-in",
        consentPage: "/consent",
        scopes: ["openid", "profile", "email", "offline_access", "tasks:read", "tasks:write"],
        // OAUTH_RESOURCE, and OAUTH_OTHER_RESOURCE: another resource server's, for tokens taskbolt must refuse.
        resources: resources.map((identifier) => ({ identifier, allowedScopes: ["tasks:read", "tasks:write"] })),
        clientRegistrationDefaultResources: resources,
        accessTokenExpiresIn: process.env.OAUTH_TOKEN_TTL ? Number(process.env.OAUTH_TOKEN_TTL) : undefined,
      }),
    ];
  }
  if (mode === "cookies") {
    return process.env.COOKIE_CACHE === "plugin" ? [jwt({ sessionCookieCache: true })] : [];
  }
  if (mode === "hs256") {
    // The configuration the README shows for HS256 with the shared secret.
    return [
      bearer(),
      jwt({
        jwks: { remoteUrl: `${baseURL}/api/auth/jwks`, keyPairConfig: { alg: "EdDSA" } },
        jwt: {
          sign: (payload) =>
            new SignJWT(payload)
              .setProtectedHeader({ alg: "HS256", typ: "JWT" })
              .sign(new TextEncoder().encode(current)),
        },
      }),
    ];
  }
  if (!keyPairs[mode]) throw new Error(`unknown MODE ${mode}`);
  return [
    bearer(),
    jwt({
      jwks: {
        keyPairConfig: keyPairs[mode],
        rotationInterval: seconds("ROTATION_INTERVAL"),
        gracePeriod: seconds("GRACE_PERIOD"),
      },
    }),
  ];
}

function cookieCache() {
  const strategy = process.env.COOKIE_CACHE;
  if (!strategy) return undefined;
  const maxAge = process.env.COOKIE_MAX_AGE ? Number(process.env.COOKIE_MAX_AGE) : undefined;
  return { cookieCache: { enabled: true, strategy: strategy === "plugin" ? "jwt" : strategy, maxAge } };
}

let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handler(req, res));
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", async () => {
  const baseURL = `http://127.0.0.1:${server.address().port}`;
  const auth = betterAuth({
    baseURL,
    secret,
    database: new Database(process.env.DB_FILE),
    emailAndPassword: { enabled: true, autoSignIn: true },
    rateLimit: { enabled: false },
    plugins: plugins(baseURL),
    session: cookieCache(),
    advanced: {
      cookiePrefix: process.env.COOKIE_PREFIX || undefined,
      useSecureCookies: process.env.SECURE_COOKIES === "true" || undefined,
    },
  });
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();
  handler = toNodeHandler(auth);
  console.log(`ready ${baseURL}`);
});

for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
