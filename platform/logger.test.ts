import { Writable } from 'node:stream';
import { createLogger } from './logger';

describe('the logger', () => {
  it('removes secrets wherever a log line nests them', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ logLevel: 'info' }, sink);
    logger.info(
      {
        token: 'secret-1',
        gitea: { url: 'https://gitea.example.test', token: 'secret-2' },
        request: { headers: { Authorization: 'Bearer secret-3', authorization: 'secret-4' } },
        config: { argocd: { token: 'secret-5' }, databaseUrl: 'mysql://u:secret-6@db/x' },
      },
      'configured',
    );
    const line = lines.join('');
    expect(line).toContain('https://gitea.example.test');
    for (let i = 1; i <= 6; i += 1) expect(line).not.toContain(`secret-${i}`);
  });
});
