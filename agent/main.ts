// `npm run agent`: the reference agent against a running aiworker, until Ctrl-C.
//   AIWORKER_URL (default http://127.0.0.1:3000) and AIWORKER_AGENT_TOKEN (from POST /api/agents).
import { runReferenceAgent } from './reference-agent';

const token = process.env.AIWORKER_AGENT_TOKEN;
if (!token) {
  process.stderr.write('agent: set AIWORKER_AGENT_TOKEN to the token from POST /api/agents\n');
  process.exit(1);
}
const stop = new AbortController();
process.on('SIGINT', () => stop.abort());
process.on('SIGTERM', () => stop.abort());

runReferenceAgent({
  url: process.env.AIWORKER_URL ?? 'http://127.0.0.1:3000',
  token,
  signal: stop.signal,
  log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`),
}).then(
  (tasks) => process.stdout.write(`worked on ${tasks.length} task(s)\n`),
  (err: unknown) => {
    process.stderr.write(`agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
