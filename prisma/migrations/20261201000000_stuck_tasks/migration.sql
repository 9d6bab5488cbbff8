-- AlterTable
ALTER TABLE `tasks` ADD COLUMN `stuckSince` DATETIME(3) NULL,
    ADD COLUMN `stuckReason` VARCHAR(500) NULL;
