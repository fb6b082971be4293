/** A one-line progress bar on a terminal (plain lines otherwise): step, loss, acc, tokens/s, ETA. */
import type { StepMetrics } from "./trainer.ts";

export class Progress {
  private readonly started = performance.now();
  private readonly tty = process.stdout.isTTY === true;
  private lastPrinted = 0;

  constructor(
    private readonly total: number,
    /** The step the run starts (or resumes) at, for the ETA. */
    private readonly startStep: number,
    private readonly quiet: boolean,
  ) {}

  update(step: number, m: StepMetrics): void {
    if (this.quiet) return;
    const elapsed = (performance.now() - this.started) / 1000;
    const eta = (elapsed / Math.max(1, step - this.startStep)) * (this.total - step);
    const width = 24;
    const filled = Math.round((width * step) / this.total);
    const line =
      `[${"█".repeat(filled)}${"·".repeat(width - filled)}] ${step}/${this.total} ` +
      `loss ${m.loss.toFixed(4)} acc ${(100 * m.acc).toFixed(1)}% lr ${m.lr.toExponential(2)} ` +
      `|g| ${m.gradNorm.toFixed(2)} ${Math.round(m.tokensPerSecond).toLocaleString("en-US")} tok/s ETA ${formatSeconds(eta)}`;
    if (this.tty) process.stdout.write(`\r\x1b[2K${line}`);
    else if (step === this.total || performance.now() - this.lastPrinted > 5000 || step <= 1) {
      console.log(line);
      this.lastPrinted = performance.now();
    }
  }

  note(text: string): void {
    if (this.quiet) return;
    if (this.tty) process.stdout.write("\n");
    console.log(text);
  }

  done(): void {
    if (!this.quiet && this.tty) process.stdout.write("\n");
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}
