/**
 * The capabilities a push may ask receive-pack for (gitprotocol-capabilities(5)): the list after
 * the NUL of the first ref update. They are read the way receive-pack reads them, because what
 * receive-pack sees is what happens: a capability is a word between any of git's four space
 * characters (space, tab, CR, LF), and its name is the part before `=` (`agent=git/2.39.5`).
 *
 * Only capabilities that change nothing but the conversation are passed on. Push options
 * (`git push -o`) are refused above all: they would reach the forge as aiworker's service
 * account, and Gitea acts on some of them (`repo.private=false`, `repo.template=true`).
 */

/** git's `isspace`: its ctype table counts these four and nothing else. */
const GIT_SPACE = /[ \t\r\n]+/;

/**
 * Capabilities without a value that receive-pack understands (or ignores), as git, JGit and
 * Dulwich send them: reports, progress, atomicity, and two that only older clients repeat.
 */
const FLAGS: ReadonlySet<string> = new Set([
  'report-status',
  'report-status-v2',
  'side-band-64k',
  'quiet',
  'atomic',
  'ofs-delta',
  'delete-refs',
]);

/** Capabilities with a value: the client's name and session for logs, and its hash. */
const VALUED: ReadonlySet<string> = new Set(['agent', 'session-id', 'object-format']);

/** What git shows the agent when its push carries options. */
export const PUSH_OPTIONS_REFUSAL = 'push options (git push -o) are not accepted';

/** The capability words of a first command line's capability list, as git splits them. */
export function parseCapabilities(text: string): Set<string> {
  return new Set(text.split(GIT_SPACE).filter(Boolean));
}

/** A capability's name: `agent` for `agent=git/2.39.5`. */
export function capabilityName(capability: string): string {
  const eq = capability.indexOf('=');
  return eq < 0 ? capability : capability.slice(0, eq);
}

/** A word the client sent, safe to show in a one-line refusal. */
function shown(capability: string): string {
  return capability.replace(/[^\x21-\x7e]/g, '?').slice(0, 80);
}

/**
 * Why a push asking for these capabilities is refused, or null when the gateway may pass them
 * on. `text` is the list as received (for the check that does not depend on parsing it);
 * `capabilities` are its words (`parseCapabilities`).
 */
export function capabilityRefusal(text: string, capabilities: ReadonlySet<string>): string | null {
  // Whatever the parse makes of it, a list that names push options anywhere is not passed on.
  if (/push-options/i.test(text)) return PUSH_OPTIONS_REFUSAL;
  for (const capability of capabilities) {
    const name = capabilityName(capability);
    if (name === 'push-options') return PUSH_OPTIONS_REFUSAL;
    if (FLAGS.has(capability)) continue;
    if (VALUED.has(name) && capability.length > name.length) continue;
    return `the capability "${shown(capability)}" is not accepted; push with a plain git push (no -o)`;
  }
  return null;
}
