-- Agent tokens: an explicit all-projects scope, expiry and revocation.
ALTER TABLE `agents` ADD COLUMN `allProjects` BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN `expiresAt` DATETIME(3) NULL,
    ADD COLUMN `revokedAt` DATETIME(3) NULL,
    ADD COLUMN `rotatedAt` DATETIME(3) NULL;

-- An agent registered without projects could work on every project: say so explicitly.
UPDATE `agents` SET `allProjects` = true
WHERE NOT EXISTS (SELECT 1 FROM `agent_projects` WHERE `agent_projects`.`agentId` = `agents`.`id`);
