// Prisma CLI configuration. The datasource URL comes from the same variable the services use.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url: process.env.DATABASE_URL ?? 'mysql://aiworker:aiworker@127.0.0.1:3306/aiworker',
  },
});
