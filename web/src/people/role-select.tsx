import type { UserRole } from '../api/types';

/** The roles in the order the board offers them, with what each may do (README, "People and roles"). */
export const ROLES: Record<UserRole, { label: string; may: string }> = {
  admin: { label: 'Administrator', may: 'May do everything, on every project.' },
  member: { label: 'Member', may: 'Works on the tasks of the projects below.' },
  viewer: { label: 'Viewer', may: 'Reads the projects below, and nothing else.' },
};

export function RoleSelect(props: { value: UserRole; onChange: (role: UserRole) => void }) {
  return (
    <label className="field">
      <span>Role</span>
      <select value={props.value} onChange={(e) => props.onChange(e.target.value as UserRole)}>
        {Object.entries(ROLES).map(([role, { label }]) => (
          <option key={role} value={role}>
            {label}
          </option>
        ))}
      </select>
      <span className="hint">{ROLES[props.value].may}</span>
    </label>
  );
}
