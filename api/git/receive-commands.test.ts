// The push parser and the refusal report on their own: bytes as git sends and reads them.
import { FLUSH, pktLine, PktLineError, readPacket } from './pkt-line';
import { parseReceiveRequest } from './receive-commands';
import { refusalReport } from './receive-report';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const ZERO = '0'.repeat(40);

describe('parseReceiveRequest', () => {
  const body = Buffer.concat([
    pktLine(`shallow ${A}\n`),
    pktLine(`${A} ${B} refs/heads/x\0report-status side-band-64k atomic agent=git/2.39.5\n`),
    pktLine(`${ZERO} ${B} refs/tags/v1\n`),
    FLUSH,
    Buffer.from('PACK...'),
  ]);

  it('reads the ref updates and capabilities up to the flush, whatever the chunking', () => {
    const end = body.indexOf('PACK');
    for (let cut = 0; cut < end; cut += 7) {
      expect(parseReceiveRequest(body.subarray(0, cut))).toBeNull();
    }
    const parsed = parseReceiveRequest(body)!;
    expect(parsed.end).toBe(end);
    expect(parsed.request.commands).toEqual([
      { oldId: A, newId: B, ref: 'refs/heads/x' },
      { oldId: ZERO, newId: B, ref: 'refs/tags/v1' },
    ]);
    expect([...parsed.request.capabilities]).toEqual([
      'report-status',
      'side-band-64k',
      'atomic',
      'agent=git/2.39.5',
    ]);
  });

  it("splits capabilities as git does, and keeps the list's bytes as they came", () => {
    const raw = Buffer.concat([
      Buffer.from(`${A} ${B} refs/heads/x\0report-status\tpush-options=1\r\nquiet `),
      Buffer.from([0xc3, 0x28]), // not UTF-8: kept byte for byte
      Buffer.from('\n'),
    ]);
    const parsed = parseReceiveRequest(Buffer.concat([pktLine(raw), FLUSH]))!;
    expect([...parsed.request.capabilities]).toEqual([
      'report-status',
      'push-options=1',
      'quiet',
      '\u00c3(',
    ]);
    expect(Buffer.from(parsed.request.capabilityText, 'latin1')).toEqual(
      raw.subarray(raw.indexOf(0) + 1),
    );
  });

  it("takes git's lone-flush probe as a push of nothing", () => {
    expect(parseReceiveRequest(FLUSH)!.request.commands).toEqual([]);
  });

  it('refuses what git does not send: bad ids, signed pushes, broken framing', () => {
    expect(() =>
      parseReceiveRequest(Buffer.concat([pktLine(`x ${B} refs/heads/x`), FLUSH])),
    ).toThrow(PktLineError);
    expect(() =>
      parseReceiveRequest(Buffer.concat([pktLine('push-cert\0report-status'), FLUSH])),
    ).toThrow(/signed pushes/);
    expect(() => parseReceiveRequest(Buffer.from('hello'))).toThrow(PktLineError);
    expect(() => readPacket(Buffer.from('0003'), 0)).toThrow(PktLineError);
  });
});

describe('refusalReport', () => {
  const verdicts = [
    { update: { oldId: A, newId: B, ref: 'refs/heads/staging' }, refusal: 'no\nway' },
  ];
  const report = Buffer.concat([
    pktLine('unpack ok\n'),
    pktLine('ng refs/heads/staging no way\n'),
    FLUSH,
  ]);

  it('is plain report-status without a side band, and nothing without report-status', () => {
    expect(refusalReport(verdicts, new Set(['report-status']), ['why'])).toEqual(report);
    expect(refusalReport(verdicts, new Set(['side-band-64k']), ['why'])).toBeNull();
  });

  it('travels in band 1 with the explanation in band 2 under side-band-64k', () => {
    const out = refusalReport(verdicts, new Set(['report-status-v2', 'side-band-64k']), ['why'])!;
    const packets: Buffer[] = [];
    for (let at = 0; at < out.length;) {
      const read = readPacket(out, at)!;
      if (read.packet.kind === 'data') packets.push(read.packet.payload);
      at = read.next;
    }
    expect(packets.map((p) => p[0])).toEqual([2, 1]);
    expect(packets[0]!.subarray(1).toString()).toBe('why\n');
    expect(packets[1]!.subarray(1)).toEqual(report);
    expect(out.subarray(-4).toString()).toBe('0000');
  });
});
