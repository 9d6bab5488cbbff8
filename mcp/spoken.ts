/** A duration in words, e.g. "30 minutes" or "90 seconds". */
export function spoken(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds % 60 === 0 && seconds >= 120 ? `${seconds / 60} minutes` : `${seconds} seconds`;
}
