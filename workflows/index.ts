// Every workflow the worker registers. Workflow code is deterministic: see eslint.config.mjs.
export { workerProbeWorkflow } from './probe';
export { taskWorkflow } from './task';
export { createProjectWorkflow } from './project';
export { changeAgentCredentialsWorkflow, registerAgentWorkflow } from './agent';
export { changePersonalTokenWorkflow, changeUserWorkflow } from './user';
export { mergeBatchWorkflow, mergeQueueWorkflow } from './merge';
export { previewCleanupWorkflow } from './preview-cleanup';
export { changeWebhookWorkflow, webhookDeliveryWorkflow } from './webhook';
