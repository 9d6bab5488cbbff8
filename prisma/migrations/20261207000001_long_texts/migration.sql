-- A task's description and a question's answer may hold 20,000 characters, which in utf8mb4 is
-- up to 80,000 bytes: more than a TEXT column's 65,535. MEDIUMTEXT holds 16 MB.
ALTER TABLE `tasks` MODIFY `description` MEDIUMTEXT NOT NULL;
ALTER TABLE `task_questions` MODIFY `answer` MEDIUMTEXT NULL;
