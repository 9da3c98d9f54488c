import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { auth, migrate, mode, taskboltURL } from "@/lib/auth";
import { Tasks } from "@/components/Tasks";
import { Chat } from "@/components/Chat";

// The task list of the user in the URL, as taskbolt's routes are. Visiting
// another user's URL is allowed here on purpose: taskbolt refuses it (403),
// and the page shows that refusal.
export default async function UserTasks({ params }: { params: Promise<{ userId: string }> }) {
  const { userId } = await params;
  await migrate();
  const session = await auth.api.getSession({ headers: await headers() });
  if (!session) redirect("/sign-in");
  const owner = decodeURIComponent(userId);
  return (
    <main className={owner === session.user.id ? "with-chat" : ""}>
      <div>
        <Tasks
          userId={owner}
          me={{ id: session.user.id, name: session.user.name, email: session.user.email }}
          mode={mode()}
          taskboltURL={taskboltURL()}
        />
      </div>
      {owner === session.user.id && <Chat userId={owner} mode={mode()} taskboltURL={taskboltURL()} />}
    </main>
  );
}
