// The official TypeScript MCP SDK's client against taskbolt's /mcp, for the
// live interop test: node mcp-client.mjs <taskbolt URL> <bearer token> <user id> <another user id>
// It connects over Streamable HTTP, lists the tools, runs each of the five,
// and prints one JSON line per step; the Go test checks them.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token, user, other] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL("/mcp", url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "taskbolt-interop", version: "1.0.0" });
await client.connect(transport);
const out = (step, value) => console.log(JSON.stringify({ step, value }));

const { tools } = await client.listTools();
out("tools", tools.map((t) => ({ name: t.name, annotations: t.annotations, hasOutputSchema: !!t.outputSchema })).sort((a, b) => a.name.localeCompare(b.name)));
const call = async (name, args) => {
  const r = await client.callTool({ name, arguments: args });
  return { isError: !!r.isError, structured: r.structuredContent ?? null, text: r.content?.[0]?.text ?? null };
};
const added = await call("add_task", { user_id: user, title: "From the TypeScript SDK", priority: "high", tags: ["mcp"] });
out("add_task", added);
const id = added.structured?.task_id;
out("list_tasks", await call("list_tasks", { user_id: user, tag: "mcp" }));
out("complete_task", await call("complete_task", { task_id: id }));
out("update_task", await call("update_task", { task_id: id, title: "Renamed by an agent" }));
out("other_user", await call("list_tasks", { user_id: other }));
out("delete_task", await call("delete_task", { task_id: id }));
out("missing", await call("complete_task", { task_id: id }));
await client.close();
