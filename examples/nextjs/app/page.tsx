import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { auth, migrate } from "@/lib/auth";

// Home: your own task list when signed in, else the sign-in page.
export default async function Home() {
  await migrate();
  const session = await auth.api.getSession({ headers: await headers() });
  redirect(session ? `/u/${encodeURIComponent(session.user.id)}` : "/sign-in");
}
