"use client";
// The typed taskbolt client: openapi-fetch over types generated from
// taskbolt's /openapi.json (lib/api-types.ts; `npm run gen:api`).
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./api-types";
import { authClient } from "./auth-client";
import type { Mode } from "./auth";

export type Task = components["schemas"]["Task"];
export type TaskCreate = components["schemas"]["TaskCreate"];
export type TaskUpdate = components["schemas"]["TaskUpdate"];
export type Priority = NonNullable<TaskCreate["priority"]>;
export type ChatResponse = components["schemas"]["ChatResponse"];

// Token mode: a JWT from Better Auth's jwt() plugin, kept until a minute
// before it expires (15 minutes by default), then fetched again.
let cached: { token: string; exp: number } | undefined;

export async function bearerToken(): Promise<string | undefined> {
  if (cached && cached.exp - 60 > Date.now() / 1000) return cached.token;
  const { data } = await authClient.token();
  if (!data?.token) {
    cached = undefined;
    return undefined; // signed out: taskbolt answers 401
  }
  const claims = JSON.parse(atob(data.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  cached = { token: data.token, exp: claims.exp };
  return data.token;
}

export function forgetToken() {
  cached = undefined;
}

const withBearer: Middleware = {
  async onRequest({ request }) {
    const token = await bearerToken();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
  async onResponse({ response }) {
    if (response.status === 401) forgetToken();
    return response;
  },
};

// client is taskbolt on its own origin with a bearer token (token mode), or
// this app's origin, where next.config.ts rewrites the task routes to
// taskbolt and the browser sends Better Auth's cookies (cookie mode).
export function client(mode: Mode, taskboltURL: string) {
  if (mode === "cookie") {
    // The page's own origin (empty while the server renders: no request is made then).
    const origin = typeof window === "undefined" ? "" : window.location.origin;
    return createClient<paths>({ baseUrl: origin, credentials: "same-origin" });
  }
  const c = createClient<paths>({ baseUrl: taskboltURL });
  c.use(withBearer);
  return c;
}

export type Client = ReturnType<typeof client>;

// message turns an error answer ({"detail": "..."} or a 422's list) into a line for the page.
export function message(status: number, error: unknown): string {
  const detail = (error as { detail?: unknown } | undefined)?.detail;
  if (typeof detail === "string") return `${status}: ${detail}`;
  if (Array.isArray(detail)) {
    return `${status}: ${detail.map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).slice(1).join(".")} ${d.msg ?? ""}`.trim()).join("; ")}`;
  }
  return `${status}: the task API refused the request`;
}
