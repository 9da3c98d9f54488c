import type { Metadata } from "next";
import "./globals.css";

export const metadata: Metadata = {
  title: "Tasks — Next.js + Better Auth + taskbolt",
  description: "An example app: Better Auth signs users in, taskbolt keeps their tasks.",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
