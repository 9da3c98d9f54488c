"use client";
import { createAuthClient } from "better-auth/react";
import { jwtClient } from "better-auth/client/plugins";

// Same origin as the app, so no baseURL. jwtClient() adds authClient.token().
export const authClient = createAuthClient({ plugins: [jwtClient()] });
