// The capabilities of a push, split and judged as receive-pack would see them.
import { capabilityRefusal, parseCapabilities, PUSH_OPTIONS_REFUSAL } from './push-capabilities';

/** The refusal for a capability list exactly as it arrives after the NUL. */
const judge = (text: string) => capabilityRefusal(text, parseCapabilities(text));

describe('parseCapabilities', () => {
  it("splits on each of git's space characters, runs of them included", () => {
    expect([...parseCapabilities('report-status\tpush-options\r\nquiet  atomic\n')]).toEqual([
      'report-status',
      'push-options',
      'quiet',
      'atomic',
    ]);
  });
});

describe('capabilityRefusal', () => {
  it('passes on what git, JGit and Dulwich send for a push', () => {
    expect(
      judge(
        ' report-status-v2 side-band-64k quiet atomic object-format=sha1 agent=git/2.45.0 session-id=20240101T000000.000000Z-Hdeadbeef-P0001\n',
      ),
    ).toBeNull();
    expect(judge('report-status side-band-64k agent=git/2.39.5')).toBeNull();
    expect(judge('atomic report-status delete-refs ofs-delta side-band-64k agent=JGit/6.8')).toBe(
      null,
    );
    expect(judge('')).toBeNull();
  });

  it('refuses push options however they are written', () => {
    for (const text of [
      'report-status push-options',
      'report-status\tpush-options',
      'report-status\rpush-options',
      'report-status\npush-options',
      'report-status\r\npush-options\n',
      'push-options=1',
      'report-status push-options=',
      // Not push options to git, but nothing that names them is passed on.
      'report-status PUSH-OPTIONS',
      'report-status agent=push-options',
      'report-status\0push-options',
    ]) {
      expect([text, judge(text)]).toEqual([text, PUSH_OPTIONS_REFUSAL]);
    }
  });

  it('refuses any other capability, and a flag given a value', () => {
    expect(judge('report-status side-band')).toMatch(/^the capability "side-band" is not accepted/);
    expect(judge('report-status=1')).toMatch(/"report-status=1" is not accepted/);
    expect(judge('report-status agent')).toMatch(/"agent" is not accepted/);
    expect(judge('report-status\x0bquiet')).toMatch(/"report-status\?quiet" is not accepted/);
  });
});
