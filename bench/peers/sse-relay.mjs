// The smallest server that does the live review's job, for bench/live.py to run side by side
// with ours: rooms in memory, Server-Sent Events out, JSON commands in, each command stamped
// with the server's time and relayed to everyone in the room. No sign-in, no database, no
// access check, one process, Node's own http module only (no packages).
//
//   node bench/peers/sse-relay.mjs PORT
import http from "node:http";

const port = Number(process.argv[2]);
const KEEP_ALIVE_MS = 15000;
const rooms = new Map();

function room(id) {
  if (!rooms.has(id)) {
    rooms.set(id, { listeners: new Set(), state: { type: "state", seq: 0, clip: 1, time: 0, playing: false, at: Date.now() } });
  }
  return rooms.get(id);
}

function send(res, event) {
  res.write("data: " + JSON.stringify({ ...event, now: Date.now() }) + "\n\n");
}

http.createServer((req, res) => {
  const match = /^\/rooms\/(\w+)\/(events|command)$/.exec(req.url || "");
  if (!match) { res.writeHead(404).end(); return; }
  const here = room(match[1]);
  if (match[2] === "events" && req.method === "GET") {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
    res.write("retry: 1000\n");
    send(res, { type: "snapshot", state: here.state });
    here.listeners.add(res);
    const beat = setInterval(() => send(res, { type: "tick" }), KEEP_ALIVE_MS);
    req.on("close", () => { clearInterval(beat); here.listeners.delete(res); });
    return;
  }
  if (match[2] === "command" && req.method === "POST") {
    let body = "";
    req.on("data", (chunk) => { body += chunk; if (body.length > 4096) req.destroy(); });
    req.on("end", () => {
      let command;
      try { command = JSON.parse(body); } catch { res.writeHead(400).end(); return; }
      const now = Date.now();
      const at = typeof command.at === "number" ? Math.min(Math.max(command.at, now - 2000), now) : now;
      here.state = { type: "state", seq: here.state.seq + 1, clip: command.clip, time: command.time, playing: !!command.playing, at };
      for (const listener of here.listeners) send(listener, here.state);
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ ok: true, seq: here.state.seq }));
    });
    return;
  }
  res.writeHead(405).end();
}).listen(port, "127.0.0.1", () => console.log("ready"));
