import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mariadb';
import { freePort } from './free-port';

const run = promisify(execFile);

/**
 * A private real MariaDB server (Debian's `mariadbd`) with its own data folder and port, for
 * tests that kill the database and start it again without touching the one every other test
 * uses. Root has no password and reaches it over TCP on 127.0.0.1.
 */
export class PrivateMariaDb {
  private child: ChildProcess | undefined;
  private exited: Promise<string> | undefined;

  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  /** Creates the data folder (system tables only) under `dir`. */
  static async create(dir: string): Promise<PrivateMariaDb> {
    mkdirSync(dir, { recursive: true });
    await run('mariadb-install-db', [
      '--no-defaults',
      `--datadir=${path.join(dir, 'data')}`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ]);
    return new PrivateMariaDb(dir, await freePort());
  }

  /** A URL of a database on this server. */
  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts the server and resolves once it answers; `ended` settles when it stops. */
  async start(): Promise<{ ended: Promise<string> }> {
    const log = openSync(path.join(this.dir, 'mariadbd.log'), 'a');
    const child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        '--user=root',
        `--datadir=${path.join(this.dir, 'data')}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${path.join(this.dir, 'mariadbd.sock')}`,
        `--pid-file=${path.join(this.dir, 'mariadbd.pid')}`,
        '--innodb-buffer-pool-size=64M',
        '--max-connections=500',
        '--skip-log-bin',
        '--skip-name-resolve',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)),
    );
    let gone = false;
    void this.exited.then(() => (gone = true));
    const deadline = Date.now() + 60_000;
    while (!gone && Date.now() < deadline) {
      try {
        const connection = await createConnection({
          host: '127.0.0.1',
          port: this.port,
          user: 'root',
          connectTimeout: 500,
        });
        await connection.end();
        return { ended: this.exited };
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    child.kill('SIGKILL');
    throw new Error(`mariadbd did not answer on port ${this.port} (see ${this.dir}/mariadbd.log)`);
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  /** SIGTERM (a clean shutdown), then SIGKILL after 20 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
  }
}
