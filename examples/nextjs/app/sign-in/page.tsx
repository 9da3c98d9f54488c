import { AuthForm } from "@/components/AuthForm";

export default function SignIn() {
  return (
    <main>
      <h1>Tasks</h1>
      <p className="muted">Next.js + Better Auth, with taskbolt as the task API.</p>
      <AuthForm />
    </main>
  );
}
