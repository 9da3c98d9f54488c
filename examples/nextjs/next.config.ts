import type { NextConfig } from "next";

// Cookie mode: the browser calls /api/:user_id/tasks* (and tags, events, chat,
// conversations) on this app's own origin,
// and Next.js forwards those requests, cookies included, to taskbolt. Rewrites
// are fixed at `next build`, so build with the TASKBOLT_URL you will run.
// (Routes of this app, like /api/auth/*, are matched first.)
const taskbolt = (process.env.TASKBOLT_URL ?? "http://localhost:8000").replace(/\/$/, "");

const config: NextConfig = {
  async rewrites() {
    return [
      { source: "/api/:user_id/tasks", destination: `${taskbolt}/api/:user_id/tasks` },
      { source: "/api/:user_id/tasks/:path*", destination: `${taskbolt}/api/:user_id/tasks/:path*` },
      { source: "/api/:user_id/tags", destination: `${taskbolt}/api/:user_id/tags` },
      { source: "/api/:user_id/events", destination: `${taskbolt}/api/:user_id/events` },
      { source: "/api/:user_id/chat", destination: `${taskbolt}/api/:user_id/chat` },
      { source: "/api/:user_id/conversations", destination: `${taskbolt}/api/:user_id/conversations` },
      { source: "/api/:user_id/conversations/:path*", destination: `${taskbolt}/api/:user_id/conversations/:path*` },
    ];
  },
};

export default config;
