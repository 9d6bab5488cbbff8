import { createProjectBody, PREVIEW_ENV_BOUNDS } from './project';

const withPreview = (preview: object) => createProjectBody.safeParse({ name: 'p', preview });
const refusal = (preview: object) => {
  const parsed = withPreview(preview);
  return parsed.success ? null : parsed.error.issues.map((i) => i.path.join('.')).join(' ');
};

describe("a project's preview settings", () => {
  it('accepts declared variables, sandbox limits, Kubernetes resources and the install network opt-in', () => {
    expect(
      withPreview({
        startCommand: 'node server.js',
        env: { NODE_ENV: 'production', _PRIVATE_1: 'x', EMPTY: '' },
        installNetwork: true,
        limits: {
          memoryMb: 2048,
          cpuSeconds: 600,
          processes: 128,
          fileSizeMb: 64,
          tmpMb: 32,
          diskMb: 1024,
        },
        resources: {
          cpuRequest: '250m',
          cpuLimit: '1.5',
          memoryRequest: '64Mi',
          memoryLimit: '1Gi',
        },
        runAsUser: 1000,
        readOnlyRootFilesystem: false,
      }).success,
    ).toBe(true);
  });

  it('refuses variable names a shell would not take, PORT, and more than the bounds allow', () => {
    expect(refusal({ env: { 'lower-case': 'x' } })).toBe('preview.env.lower-case');
    expect(refusal({ env: { '1ST': 'x' } })).toBe('preview.env.1ST');
    expect(refusal({ env: { PORT: '8080' } })).toBe('preview.env.PORT');
    expect(refusal({ env: { BIG: 'x'.repeat(PREVIEW_ENV_BOUNDS.valueLength + 1) } })).toBe(
      'preview.env.BIG',
    );
    const many = Object.fromEntries(
      Array.from({ length: PREVIEW_ENV_BOUNDS.count + 1 }, (_, i) => [`V${i}`, 'x']),
    );
    expect(refusal({ env: many })).toBe('preview.env');
    const large = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`V${i}`, 'x'.repeat(PREVIEW_ENV_BOUNDS.valueLength)]),
    );
    expect(refusal({ env: large })).toBe('preview.env');
  });

  it('refuses limits out of range or unknown, quantities Kubernetes would not read, and root', () => {
    expect(refusal({ limits: { memoryMb: 1 } })).toBe('preview.limits.memoryMb');
    expect(refusal({ limits: { processes: 2.5 } })).toBe('preview.limits.processes');
    expect(refusal({ limits: { swapMb: 10 } })).toBe('preview.limits');
    expect(refusal({ resources: { memoryLimit: '1 GB' } })).toBe('preview.resources.memoryLimit');
    expect(refusal({ installNetwork: 'yes' })).toBe('preview.installNetwork');
    expect(refusal({ runAsUser: 0 })).toBe('preview.runAsUser');
  });
});
