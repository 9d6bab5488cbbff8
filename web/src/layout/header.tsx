import { useEffect, useState } from 'react';
import type { ProjectRecord } from '../api/types';
import type { LiveState } from '../live/use-live';
import { ProjectPicker } from '../projects/project-picker';
import { NewProjectForm } from '../projects/new-project-form';
import { navigate, pathOf } from '../router';
import type { Route } from '../router';
import { useSession } from '../session/session';

const LIVE_WORDS: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  offline: 'Reconnecting…',
};

/** The top bar: project, the two views, whether updates are live, sign out. */
export function Header(props: { route: Route; projects: ProjectRecord[]; live: LiveState | null }) {
  const { route, projects, live } = props;
  const { signOut } = useSession();
  const [creating, setCreating] = useState(false);
  const projectId = route.name === 'home' ? null : route.projectId;
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
