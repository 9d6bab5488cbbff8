import { useEffect, useState } from 'react';
import { usePrincipal } from '../api/queries';
import type { Principal, ProjectRecord } from '../api/types';
import type { LiveState } from '../live/use-live';
import { ProjectPicker } from '../projects/project-picker';
import { NewProjectForm } from '../projects/new-project-form';
import { NotificationsButton } from '../live/notifications';
import { navigate, pathOf } from '../router';
import type { Route } from '../router';
import { useSession } from '../session/session';

const LIVE_WORDS: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  offline: 'Reconnecting…',
};

/**
 * Who may use the account pages, as the API decides it: people are managed by administrators
 * signed in to the board or with the admin token; tokens are made from a person's board session.
 */
function managesPeople(p: Principal | undefined): boolean {
  return p?.kind === 'admin' || (p?.kind === 'user' && p.role === 'admin' && p.viaCookie);
}
function makesTokens(p: Principal | undefined): boolean {
  return p?.kind === 'user' && p.viaCookie;
}

/** The top bar: project, the two views, the account pages, whether updates are live, sign out. */
export function Header(props: { route: Route; projects: ProjectRecord[]; live: LiveState | null }) {
  const { route, projects, live } = props;
  const { signOut } = useSession();
  const principal = usePrincipal().data;
  const [creating, setCreating] = useState(false);
  const projectId = 'projectId' in route ? route.projectId : null;
  // Whichever form made the new project, the board it opens needs no project form over it.
  useEffect(() => {
    setCreating(false);
  }, [projectId]);

  return (
    <header className="header">
      <div className="header-row">
        <a
          className="brand"
          href="/"
          onClick={(e) => {
            e.preventDefault();
            navigate({ name: 'home' });
          }}
        >
          <span className="brand-mark" aria-hidden="true" />
          aiworker
        </a>
        {projects.length > 0 && <ProjectPicker projects={projects} projectId={projectId} />}
        <button
          className="button ghost"
          type="button"
          aria-expanded={creating}
          onClick={() => setCreating((v) => !v)}
        >
          New project
        </button>
        <span className="spacer" />
        {live && (
          <span className={`live live-${live}`} role="status" title="Live updates">
            <span className="live-dot" aria-hidden="true" />
            {LIVE_WORDS[live]}
          </span>
        )}
        {(managesPeople(principal) || makesTokens(principal)) && (
          <nav className="tabs header-links" aria-label="Account">
            {managesPeople(principal) && (
              <Tab route={{ name: 'people' }} current={route.name === 'people'} label="People" />
            )}
            {makesTokens(principal) && (
              <Tab route={{ name: 'tokens' }} current={route.name === 'tokens'} label="Tokens" />
            )}
          </nav>
        )}
        <NotificationsButton />
        <button className="button ghost" type="button" onClick={() => signOut()}>
          Sign out
        </button>
      </div>
      {projectId && (
        <nav className="tabs" aria-label="Views">
          <Tab
            route={{ name: 'board', projectId }}
            current={route.name === 'board'}
            label="Board"
          />
          <Tab
            route={{ name: 'agents', projectId }}
            current={route.name === 'agents'}
            label="Agents"
          />
        </nav>
      )}
      {creating && (
        <div className="header-popover">
          <NewProjectForm
            onCreated={() => setCreating(false)}
            onCancel={() => setCreating(false)}
          />
        </div>
      )}
    </header>
  );
}

function Tab({ route, current, label }: { route: Route; current: boolean; label: string }) {
  return (
    <a
      className="tab"
      href={pathOf(route)}
      aria-current={current ? 'page' : undefined}
      onClick={(e) => {
        e.preventDefault();
        navigate(route);
      }}
    >
      {label}
    </a>
  );
}
