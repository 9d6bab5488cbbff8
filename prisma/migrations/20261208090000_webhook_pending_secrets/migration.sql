-- A new webhook's secret waits here between the API and the workflow activity that creates the
-- webhook, so the workflow's input names it by this row's id instead of carrying it (a workflow's
-- history is readable by anyone with Temporal's UI or CLI). The activity deletes the row as it
-- moves the secret into `webhooks`; the API deletes rows a day old whose workflow never ran.
CREATE TABLE `webhook_pending_secrets` (
    `id` VARCHAR(36) NOT NULL,
    `webhookId` VARCHAR(36) NOT NULL,
    `secret` VARCHAR(255) NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    INDEX `webhook_pending_secrets_createdAt_idx`(`createdAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
