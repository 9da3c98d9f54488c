export interface StartOptions {
  /** An export or seed file's path, or the document itself: `{users: [{user_id, tasks: [{title}]}]}`. */
  seed?: string | { users: Array<{ user_id: string; tasks: Array<Record<string, unknown>> }> };
  /** BETTER_AUTH_SECRET, at least 32 bytes; random when not given. */
  secret?: string;
  /** ADMIN_TOKEN, for reset(); random when not given. */
  adminToken?: string;
  /** More settings for taskbolt's environment (MCP, OPENAI_BASE_URL, …). */
  env?: Record<string, string>;
  /** A taskbolt binary to run instead of this platform's package. */
  binary?: string;
}

export interface TokenOptions {
  /** Seconds until it expires; default 3600. */
  ttl?: number;
  /** More claims. */
  claims?: Record<string, unknown>;
}

export interface Taskbolt {
  /** The server's base URL, http://127.0.0.1:<port>. */
  url: string;
  secret: string;
  adminToken: string;
  /** A bearer token for user sub (an HS256 JWT signed with the secret). */
  token(sub: string, options?: TokenOptions): string;
  /** Delete every task and conversation of every user. */
  reset(): Promise<void>;
  /** Stop the server and remove its data. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Start a throwaway taskbolt on a free loopback port. */
export function startTaskbolt(options?: StartOptions): Promise<Taskbolt>;
/** The path of this platform's taskbolt binary. */
export function binaryPath(): string;
/** An HS256 JWT for sub, signed with secret. */
export function signToken(secret: string, sub: string, options?: TokenOptions): string;

declare const _default: { startTaskbolt: typeof startTaskbolt; binaryPath: typeof binaryPath; signToken: typeof signToken };
export default _default;
