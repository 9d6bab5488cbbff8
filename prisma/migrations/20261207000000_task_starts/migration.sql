-- The API writes a new task's row itself, with the start of its workflow still to do recorded
-- beside it in the same transaction; the workflow's first projection (or the worker's sweep,
-- for a start an API process did not live to make) removes that record.
CREATE TABLE `task_starts` (
    `taskId` VARCHAR(36) NOT NULL,
    `input` JSON NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    INDEX `task_starts_createdAt_idx`(`createdAt`),
    PRIMARY KEY (`taskId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

ALTER TABLE `task_starts` ADD CONSTRAINT `task_starts_taskId_fkey` FOREIGN KEY (`taskId`) REFERENCES `tasks`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
