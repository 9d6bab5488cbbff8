/**
 * The answer to a refused push, in the receive-pack's own report format (gitprotocol-pack(5),
 * "report-status"), so that git prints it to the agent as it prints any server's refusal:
 *
 *   ! [remote rejected] staging -> staging (staging changes only through merges ...)
 *
 * With a side band the report travels in band 1 and a human explanation in band 2, which git
 * prints as `remote: ...` lines.
 */
import { FLUSH, pktLine } from './pkt-line';
import type { Verdict } from './push-policy';

/** Data bytes per side-band packet: 65520 - 4 (length) - 1 (band) for side-band-64k. */
const BAND_CHUNK_64K = 65515;
/** The original side-band carries 1000-byte packets. */
const BAND_CHUNK = 995;

function band(channel: 1 | 2, data: Buffer, chunk: number): Buffer[] {
  const packets: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunk) {
    packets.push(pktLine(Buffer.concat([Buffer.from([channel]), data.subarray(at, at + chunk)])));
  }
  return packets;
}

/** A reason as one line git can print: no line breaks, bounded. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 500);
}

/**
 * The report-status answer refusing every update of the push, or null when the client asked for
 * no report (then only an HTTP error can tell it). `explanation` lines go to band 2 when the
 * client asked for a side band.
 */
export function refusalReport(
  verdicts: Verdict[],
  capabilities: Set<string>,
  explanation: string[],
): Buffer | null {
  if (!capabilities.has('report-status') && !capabilities.has('report-status-v2')) return null;
  const report = Buffer.concat([
    pktLine('unpack ok\n'),
    ...verdicts.map((v) => pktLine(`ng ${v.update.ref} ${oneLine(v.refusal ?? 'refused')}\n`)),
    FLUSH,
  ]);
  const chunk = capabilities.has('side-band-64k')
    ? BAND_CHUNK_64K
    : capabilities.has('side-band')
      ? BAND_CHUNK
      : 0;
  if (!chunk) return report;
  const message = Buffer.from(explanation.map((line) => `${oneLine(line)}\n`).join(''), 'utf8');
  return Buffer.concat([...band(2, message, chunk), ...band(1, report, chunk), FLUSH]);
}
