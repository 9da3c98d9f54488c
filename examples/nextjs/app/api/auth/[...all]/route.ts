import { toNextJsHandler } from "better-auth/next-js";
import { auth, migrate } from "@/lib/auth";

const handler = toNextJsHandler(auth);

export async function GET(request: Request) {
  await migrate();
  return handler.GET(request);
}

export async function POST(request: Request) {
  await migrate();
  return handler.POST(request);
}
