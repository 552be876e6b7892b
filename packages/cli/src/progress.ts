/**
 * A progress bar on stderr for long operations (producing a file, replaying, redriving). Drawn
 * only when stderr is a terminal, redrawn at most every 100 ms so it never costs more than the
 * work it reports; on a pipe it stays silent and the command's final summary line says it all.
 */
import type { Output } from './terminal.ts';

/** A running progress bar. */
export interface Progress {
  /** Sets the units done so far (and the total when it became known later). */
  update(done: number, total?: number): void;
  /** Clears the bar (the caller prints its own summary). */
  finish(): void;
}

const REDRAW_MS = 100;
const BAR_WIDTH_MAX = 40;

/** Starts a progress bar labelled `label` over `total` units (`unit` names them, e.g. "msgs"). */
export function startProgress(output: Output, label: string, total: number, unit: string): Progress {
  if (!output.progress) return { update: () => {}, finish: () => {} };
  const startedMs = performance.now();
  let lastDrawMs = 0;
  let current = 0;
  let totalUnits = total;
  let drawn = false;
  const draw = () => {
    const elapsedSeconds = (performance.now() - startedMs) / 1000;
    const rate = elapsedSeconds > 0 ? current / elapsedSeconds : 0;
    const fraction = totalUnits > 0 ? Math.min(1, current / totalUnits) : 0;
    const counts = `${current}/${totalUnits} ${unit} ${Math.round(rate)}/s`;
    const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
    const room = output.columns - label.length - counts.length - percent.length - 6;
    const width = Math.max(10, Math.min(BAR_WIDTH_MAX, room));
    const filled = Math.round(fraction * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    output.io.stderr(`\r\u001b[2K${label} ${bar} ${percent} ${counts}`);
    drawn = true;
  };
  draw();
  return {
    update(done, newTotal) {
      current = done;
      if (newTotal !== undefined) totalUnits = newTotal;
      const now = performance.now();
      if (now - lastDrawMs < REDRAW_MS && done < totalUnits) return;
      lastDrawMs = now;
      draw();
    },
    finish() {
      if (!drawn) return;
      draw();
      output.io.stderr('\n');
    },
  };
}
