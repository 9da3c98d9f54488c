"use client";
import { useState } from "react";
import { authClient } from "@/lib/auth-client";

// Sign in or sign up with email and password (Better Auth).
export function AuthForm() {
  const [signUp, setSignUp] = useState(false);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const email = String(form.get("email")), password = String(form.get("password"));
    setBusy(true);
    setError("");
    const { error } = signUp
      ? await authClient.signUp.email({ email, password, name: String(form.get("name") || email.split("@")[0]) })
      : await authClient.signIn.email({ email, password });
    setBusy(false);
    if (error) {
      setError(error.message ?? "Could not sign in");
      return;
    }
    window.location.assign("/"); // a full load: the server page reads the new session
  }

  return (
    <form className="card" onSubmit={submit} aria-label={signUp ? "Sign up" : "Sign in"}>
      <h2>{signUp ? "Create an account" : "Sign in"}</h2>
      {signUp && (
        <p className="row">
          <input type="text" name="name" placeholder="Name" aria-label="Name" />
        </p>
      )}
      <p className="row">
        <input type="email" name="email" placeholder="Email" aria-label="Email" required />
      </p>
      <p className="row">
        <input type="password" name="password" placeholder="Password (8+ characters)" aria-label="Password" minLength={8} required />
      </p>
      {error && <p className="error" role="alert">{error}</p>}
      <p className="row">
        <button type="submit" disabled={busy}>{signUp ? "Sign up" : "Sign in"}</button>
        <button type="button" className="secondary" onClick={() => setSignUp(!signUp)}>
          {signUp ? "I have an account" : "Create an account"}
        </button>
      </p>
    </form>
  );
}
