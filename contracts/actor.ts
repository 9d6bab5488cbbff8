/**
 * Who did something (README, "Who did it"): a person signed in (`user`), the operator's
 * break-glass token (`admin`), a registered agent, or aiworker itself (`system`: leases,
 * reminders, merges' outcomes it observes).
 */
export type ActorKind = 'user' | 'agent' | 'admin' | 'system';

export interface Actor {
  kind: ActorKind;
  id: string;
  name: string;
}

/** Who asked for a change (absent in histories recorded before release 0.5.0). */
export interface ByActor {
  actor?: Actor;
}

/** Events and changes recorded before actors were: nobody can say who. */
export const UNKNOWN_ACTOR: Actor = { kind: 'system', id: 'unknown', name: 'unknown' };

/** aiworker itself: a lease that ran out, a reminder, a sweep. */
export const SYSTEM_ACTOR: Actor = { kind: 'system', id: 'aiworker', name: 'aiworker' };

/** The operator's break-glass token. */
export const ADMIN_ACTOR: Actor = { kind: 'admin', id: 'admin', name: 'administrator' };

/** The one-time link that makes the first administrator (README, "First administrator"). */
export const FIRST_ADMIN_LINK_ACTOR: Actor = {
  kind: 'system',
  id: 'first-admin-link',
  name: 'first-administrator link',
};

/** An agent known only by its id (histories recorded before updates carried the agent's name). */
export function agentActor(agentId: string, name?: string): Actor {
  return { kind: 'agent', id: agentId, name: name ?? agentId };
}
