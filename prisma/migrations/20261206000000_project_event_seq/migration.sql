-- Each project's event log gets its own sequence, handed out under a lock on the project's
-- counter row inside the transaction that writes the events: a later number is always committed
-- after an earlier one, so a reader never sees seq N+1 before N. Events logged before keep their
-- number (their row id, unique and increasing within each project); the counters continue from
-- there, and from then on each project's numbers are consecutive.
ALTER TABLE `task_events` ADD COLUMN `seq` BIGINT NULL;
UPDATE `task_events` SET `seq` = `id`;
ALTER TABLE `task_events` MODIFY `seq` BIGINT NOT NULL;
CREATE UNIQUE INDEX `task_events_projectId_seq_key` ON `task_events`(`projectId`, `seq`);
DROP INDEX `task_events_projectId_id_idx` ON `task_events`;
CREATE INDEX `task_events_taskId_seq_idx` ON `task_events`(`taskId`, `seq`);

CREATE TABLE `project_event_seqs` (
    `projectId` VARCHAR(36) NOT NULL,
    `lastSeq` BIGINT NOT NULL,

    PRIMARY KEY (`projectId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

ALTER TABLE `project_event_seqs` ADD CONSTRAINT `project_event_seqs_projectId_fkey` FOREIGN KEY (`projectId`) REFERENCES `projects`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

INSERT INTO `project_event_seqs` (`projectId`, `lastSeq`)
    SELECT `projectId`, MAX(`seq`) FROM `task_events` GROUP BY `projectId`;
