import { useEffect } from 'react';
import { AgentsView } from './agents/agents-view';
import { useProjects } from './api/queries';
import { Board } from './board/board';
import { Header } from './layout/header';
import { useLive } from './live/use-live';
import { PeopleView } from './people/people-view';
import { NewProjectForm } from './projects/new-project-form';
import { navigate, useRoute } from './router';
import { useSession } from './session/session';
import { SignIn } from './session/sign-in';
import { TokensView } from './tokens/tokens-view';
import { ErrorMessage } from './ui/error-message';

const LAST_PROJECT_KEY = 'aiworker.project';

/** Sign-in until the board is signed in (a token or a session cookie), then the board. */
export function App() {
  const { signedIn } = useSession();
  if (signedIn === null) return null;
  return signedIn ? <Shell /> : <SignIn />;
}

function Shell() {
  const route = useRoute();
  const projects = useProjects();
  const projectId = 'projectId' in route ? route.projectId : null;
  const live = useLive(projectId);

  // `/` opens the project used last (or the first one).
  useEffect(() => {
    if (route.name !== 'home' || !projects.data?.length) return;
    const last = localStorage.getItem(LAST_PROJECT_KEY);
    const project = projects.data.find((p) => p.id === last) ?? projects.data[0]!;
    navigate({ name: 'board', projectId: project.id }, { replace: true });
  }, [route.name, projects.data]);

  useEffect(() => {
    if (projectId) localStorage.setItem(LAST_PROJECT_KEY, projectId);
  }, [projectId]);

  const project = projects.data?.find((p) => p.id === projectId);

  let content;
  if (projects.isPending) content = <p className="muted page-message">Loading projects…</p>;
  else if (projects.error)
    content = <ErrorMessage error={projects.error} prefix="Could not load the projects" />;
  else if (route.name === 'people') content = <PeopleView />;
  else if (route.name === 'tokens') content = <TokensView />;
  else if (route.name === 'home')
    content = (
      <section className="welcome">
        <h1>Create your first project</h1>
        <p className="muted">
          A project is one repository. Tasks for it go on its board, and agents registered for it
          take them.
        </p>
        <NewProjectForm />
      </section>
    );
  else if (!project)
    content = (
      <p className="error page-message" role="alert">
        There is no project {route.projectId}. Pick one above.
      </p>
    );
  else if (route.name === 'agents') content = <AgentsView key={project.id} project={project} />;
  else content = <Board key={project.id} project={project} taskId={route.taskId} />;

  return (
    <div className="app">
      <Header route={route} projects={projects.data ?? []} live={projectId ? live : null} />
      <main className="main">{content}</main>
    </div>
  );
}
