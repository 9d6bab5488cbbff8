import { useAgentStatus, useAgents, useProjects, useTasks } from '../api/queries';
import type { AgentLiveStatus, AgentRecord, ProjectRecord, Task } from '../api/types';
import { navigate, pathOf } from '../router';
import { ErrorMessage } from '../ui/error-message';
import { stateLabel } from '../ui/labels';
import { formatTime, timeAgo, useNow } from '../ui/time';

/** States in which a task is an agent's current work. */
const WORKING_STATES = ['in_progress', 'needs_input'];

interface Activity {
  task: Task | null;
  /** Said by an `agent:status` event, or worked out from the tasks assigned to the agent. */
  status: 'working' | 'idle' | 'in_review' | 'unknown';
}

/**
 * Who works on what: the task the agent last said it works on (`agent:status`) while that task
 * is still being worked on; else the task of this project it holds, or has handed in for
 * review (the read model); else what its last status said, or nothing known.
 */
function activityOf(
  agent: AgentRecord,
  live: AgentLiveStatus | undefined,
  tasks: Task[],
): Activity {
  if (live?.status === 'working') {
    const task = tasks.find((t) => t.id === live.currentTaskId) ?? null;
    // A task of another project, or one still being worked on; otherwise the report is out of date.
    if (!task || WORKING_STATES.includes(task.state)) return { status: 'working', task };
  }
  const mine = tasks.filter((t) => t.assignedAgentId === agent.id);
  const held = mine.find((t) => WORKING_STATES.includes(t.state));
  if (held) return { status: 'working', task: held };
  const handedIn = mine.find((t) => t.state === 'ready_to_test');
  if (handedIn) return { status: 'in_review', task: handedIn };
  return { status: live ? 'idle' : 'unknown', task: null };
}

export function AgentsView({ project }: { project: ProjectRecord }) {
  const agents = useAgents();
  const live = useAgentStatus();
  const tasks = useTasks(project.id);
  const projects = useProjects();
  const now = useNow();
  const projectName = (id: string) => projects.data?.find((p) => p.id === id)?.name ?? id;
  const list = agents.data ?? [];

  return (
    <section className="agents-page">
      <div className="toolbar">
        <h1 className="page-title">Agents</h1>
        <span className="muted">working on {project.name} now, and every registered agent</span>
      </div>
      <ErrorMessage error={agents.error} prefix="Could not load the agents" />
      {agents.isPending && <p className="muted page-message">Loading agents…</p>}
      {agents.data && list.length === 0 && (
        <p className="muted page-message">
          No agents yet. Register one with <code>POST /api/agents</code> and give it the token.
        </p>
      )}
      {list.length > 0 && (
        <table className="agents">
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Doing</th>
              <th scope="col">Projects</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {list.map((agent) => {
              const liveStatus = live.data?.[agent.id];
              const activity = activityOf(agent, liveStatus, tasks.data ?? []);
              const seen = latest(agent.lastSeenAt, liveStatus?.at);
              return (
                <tr key={agent.id} data-agent-id={agent.id}>
                  <th scope="row" data-label="Agent">
                    {agent.name}
                  </th>
                  <td data-label="Doing">
                    {agent.revokedAt ? (
                      <span className="muted">token revoked</span>
                    ) : agent.expiresAt && Date.parse(agent.expiresAt) <= now ? (
                      <span className="muted">token expired</span>
                    ) : (
                      <Doing activity={activity} />
                    )}
                  </td>
                  <td data-label="Projects">
                    {agent.projectIds === '*'
                      ? 'all projects (*)'
                      : agent.projectIds.map(projectName).join(', ')}
                  </td>
                  <td data-label="Last seen">
                    {seen ? (
                      <time dateTime={seen} title={formatTime(seen)}>
                        {timeAgo(seen, now)}
                      </time>
                    ) : (
                      <span className="muted">not yet</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function TaskLink({ task }: { task: Task }) {
  const route = { name: 'board', projectId: task.projectId, taskId: task.id } as const;
  return (
    <a
      href={pathOf(route)}
      onClick={(e) => {
        e.preventDefault();
        navigate(route);
      }}
    >
      {task.title}
    </a>
  );
}

function Doing({ activity }: { activity: Activity }) {
  const { status, task } = activity;
  if (status === 'in_review' && task) {
    return (
      <span className="doing">
        <span className="status status-idle">waiting for review</span> of <TaskLink task={task} />
      </span>
    );
  }
  if (status === 'working' && task) {
    return (
      <span className="doing">
        <span className="status status-working">working</span> on <TaskLink task={task} />
        {task.state !== 'in_progress' && (
          <span className="muted"> ({stateLabel(task.state).toLowerCase()})</span>
        )}
      </span>
    );
  }
  if (status === 'working')
    return <span className="status status-working">working (another project)</span>;
  if (status === 'idle') return <span className="status status-idle">idle</span>;
  return <span className="muted">no task in progress here</span>;
}

function latest(a: string | null, b: string | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return Date.parse(a) > Date.parse(b) ? a : b;
}
