import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes on task workflows, so operators can filter tasks in the Temporal
 * Web UI (e.g. `AiworkerTaskState = "needs_input"`). They are a view for people: the product
 * never decides anything from Temporal visibility, which is eventually consistent.
 */
export const taskStateKey = defineSearchAttributeKey(
  'AiworkerTaskState',
  SearchAttributeType.KEYWORD,
);
export const projectIdKey = defineSearchAttributeKey(
  'AiworkerProjectId',
  SearchAttributeType.KEYWORD,
);
export const agentIdKey = defineSearchAttributeKey('AiworkerAgentId', SearchAttributeType.KEYWORD);

/** Every custom search attribute, as `name=Type` pairs for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTES: ReadonlyArray<{ name: string; type: 'Keyword' }> = [
  { name: taskStateKey.name, type: 'Keyword' },
  { name: projectIdKey.name, type: 'Keyword' },
  { name: agentIdKey.name, type: 'Keyword' },
];
