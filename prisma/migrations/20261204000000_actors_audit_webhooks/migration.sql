-- Who did it: every event names its actor; events logged before keep NULL and read as unknown.
ALTER TABLE `task_events`
    ADD COLUMN `actorKind` VARCHAR(16) NULL,
    ADD COLUMN `actorId` VARCHAR(64) NULL,
    ADD COLUMN `actorName` VARCHAR(200) NULL;

-- What people did, for administrators.
CREATE TABLE `audit_entries` (
    `id` BIGINT NOT NULL AUTO_INCREMENT,
    `key` VARCHAR(191) NOT NULL,
    `action` VARCHAR(64) NOT NULL,
    `actorKind` VARCHAR(16) NOT NULL,
    `actorId` VARCHAR(64) NOT NULL,
    `actorName` VARCHAR(200) NOT NULL,
    `projectId` VARCHAR(36) NULL,
    `taskId` VARCHAR(36) NULL,
    `detail` JSON NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    UNIQUE INDEX `audit_entries_key_key`(`key`),
    INDEX `audit_entries_projectId_id_idx`(`projectId`, `id`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- Outgoing webhooks of a project, and each event's delivery to each of them.
CREATE TABLE `webhooks` (
    `id` VARCHAR(36) NOT NULL,
    `projectId` VARCHAR(36) NOT NULL,
    `url` VARCHAR(2048) NOT NULL,
    `secret` VARCHAR(255) NOT NULL,
    `events` JSON NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    INDEX `webhooks_projectId_idx`(`projectId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE `webhook_deliveries` (
    `id` VARCHAR(36) NOT NULL,
    `webhookId` VARCHAR(36) NOT NULL,
    `eventSeq` BIGINT NOT NULL,
    `eventType` VARCHAR(64) NOT NULL,
    `state` ENUM('pending', 'delivered', 'failed') NOT NULL DEFAULT 'pending',
    `attempts` INTEGER NOT NULL DEFAULT 0,
    `lastStatus` INTEGER NULL,
    `lastError` VARCHAR(500) NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,
    `deliveredAt` DATETIME(3) NULL,

    UNIQUE INDEX `webhook_deliveries_webhookId_eventSeq_key`(`webhookId`, `eventSeq`),
    INDEX `webhook_deliveries_webhookId_createdAt_idx`(`webhookId`, `createdAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

ALTER TABLE `webhooks` ADD CONSTRAINT `webhooks_projectId_fkey` FOREIGN KEY (`projectId`) REFERENCES `projects`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE `webhook_deliveries` ADD CONSTRAINT `webhook_deliveries_webhookId_fkey` FOREIGN KEY (`webhookId`) REFERENCES `webhooks`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
