// Contracts shared by the API, the MCP server, the worker and the web UI.
export * from './task-queue';
export * from './task-state';
export * from './search-attributes';
export * from './errors';
export * from './probe';
