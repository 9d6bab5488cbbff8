-- An account signed in with OpenID Connect is tied to the provider's subject id.
ALTER TABLE `users`
    ADD COLUMN `oidcIssuer` VARCHAR(255) NULL,
    ADD COLUMN `oidcSubject` VARCHAR(255) NULL;

CREATE UNIQUE INDEX `users_oidcIssuer_oidcSubject_key` ON `users`(`oidcIssuer`, `oidcSubject`);
