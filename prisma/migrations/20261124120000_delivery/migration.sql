-- AlterTable
ALTER TABLE `projects` ADD COLUMN `cloneUrl` VARCHAR(500) NULL;

-- AlterTable
ALTER TABLE `tasks` ADD COLUMN `previewCommit` VARCHAR(64) NULL,
    ADD COLUMN `approvedCommit` VARCHAR(64) NULL,
    ADD COLUMN `mergeId` VARCHAR(36) NULL;

-- CreateTable
CREATE TABLE `pull_requests` (
    `id` VARCHAR(36) NOT NULL,
    `projectId` VARCHAR(36) NOT NULL,
    `number` INTEGER NOT NULL,
    `taskId` VARCHAR(36) NULL,
    `title` VARCHAR(300) NOT NULL,
    `body` TEXT NOT NULL,
    `headBranch` VARCHAR(200) NOT NULL,
    `baseBranch` VARCHAR(200) NOT NULL,
    `state` ENUM('open', 'merged', 'closed') NOT NULL DEFAULT 'open',
    `headSha` VARCHAR(64) NOT NULL,
    `mergeSha` VARCHAR(64) NULL,
    `filesChanged` INTEGER NOT NULL DEFAULT 0,
    `additions` INTEGER NOT NULL DEFAULT 0,
    `deletions` INTEGER NOT NULL DEFAULT 0,
    `files` JSON NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `pull_requests_projectId_number_key`(`projectId`, `number`),
    INDEX `pull_requests_projectId_headBranch_state_idx`(`projectId`, `headBranch`, `state`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `merges` (
    `id` VARCHAR(36) NOT NULL,
    `projectId` VARCHAR(36) NOT NULL,
    `state` ENUM('queued', 'merging', 'deploying', 'completed', 'failed', 'rolled_back') NOT NULL DEFAULT 'queued',
    `baseSha` VARCHAR(64) NULL,
    `headSha` VARCHAR(64) NULL,
    `environment` VARCHAR(120) NULL,
    `deployUrl` VARCHAR(500) NULL,
    `detail` TEXT NULL,
    `version` INTEGER NOT NULL DEFAULT 0,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    INDEX `merges_projectId_createdAt_idx`(`projectId`, `createdAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `merge_tasks` (
    `mergeId` VARCHAR(36) NOT NULL,
    `taskId` VARCHAR(36) NOT NULL,
    `position` INTEGER NOT NULL,
    `result` VARCHAR(32) NOT NULL,
    `commit` VARCHAR(64) NULL,
    `detail` TEXT NULL,

    PRIMARY KEY (`mergeId`, `taskId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `pull_requests` ADD CONSTRAINT `pull_requests_projectId_fkey` FOREIGN KEY (`projectId`) REFERENCES `projects`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `merges` ADD CONSTRAINT `merges_projectId_fkey` FOREIGN KEY (`projectId`) REFERENCES `projects`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `merge_tasks` ADD CONSTRAINT `merge_tasks_mergeId_fkey` FOREIGN KEY (`mergeId`) REFERENCES `merges`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
