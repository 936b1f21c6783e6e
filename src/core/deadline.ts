/** Timers as data: the earliest of several optional deadlines. */
export const earliest = (...deadlines: (number | undefined)[]): number | undefined => {
  let min: number | undefined;
  for (const d of deadlines) if (d !== undefined && (min === undefined || d < min)) min = d;
  return min;
};
