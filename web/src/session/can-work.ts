import { usePrincipal } from '../api/queries';
import type { Principal } from '../api/types';

/**
 * Whether a principal may act on a project (create, answer, approve, cancel, merge), as the API
 * decides it: the operator and administrators everywhere, members on their projects, viewers
 * nowhere. The board hides what the API would refuse.
 */
export function canWork(principal: Principal | undefined, projectId: string): boolean {
  if (!principal) return false;
  if (principal.kind === 'admin') return true;
  if (principal.kind !== 'user') return false;
  if (principal.role === 'admin') return true;
  return principal.role === 'member' && principal.projectIds.includes(projectId);
}

export function useCanWork(projectId: string): boolean {
  return canWork(usePrincipal().data, projectId);
}
