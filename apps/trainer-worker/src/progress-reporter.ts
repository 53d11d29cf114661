/**
 * Throttled progress for one job. Training emits an event per optimizer step (hundreds a second on
 * tiny models); Redis and the console need one every few seconds. Phase changes and checkpoints are
 * always sent at once, since they change what a resuming worker or a watching user must know.
 */
import type { CheckpointRef, DiscriminatorProgress, JobPhase, JobProgress, TransferProgress } from '@palette/job-contracts';

export interface ProgressSink {
  (progress: JobProgress): Promise<void>;
}

export interface ProgressUpdate {
  readonly phase: JobPhase;
  readonly step: number;
  readonly totalSteps: number;
  readonly loss?: number | null;
  readonly learningRate?: number | null;
  readonly tokensPerSecond?: number | null;
  readonly etaSeconds?: number | null;
  readonly evalLoss?: number;
  /** transfer jobs: kept until replaced, so the acceptance rate and the stored distillation set stay visible while training. */
  readonly transfer?: TransferProgress;
  /** train jobs: the companion discriminator, only in the updates of its own phases. */
  readonly discriminator?: DiscriminatorProgress;
}

export class ProgressReporter {
  private lastSentAt = -Infinity;
  private lastPhase: JobPhase | undefined;
  private lastUpdate: ProgressUpdate | undefined;
  private pending: JobProgress | undefined;
  private checkpointRef: CheckpointRef | undefined;
  private evalLoss: number | undefined;
  private transfer: TransferProgress | undefined;
  /** Sends are chained so updates reach Redis in order. */
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    private readonly sink: ProgressSink,
    private readonly intervalMs: number,
    private readonly resumedFromStep: number | undefined,
    initialCheckpoint: CheckpointRef | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.checkpointRef = initialCheckpoint;
  }

  /** The latest checkpoint recorded (the one a takeover resumes from). */
  get checkpoint(): CheckpointRef | undefined {
    return this.checkpointRef;
  }

  /** The most recent update (what a checkpoint record repeats). */
  get latest(): ProgressUpdate | undefined {
    return this.lastUpdate;
  }

  /** Records a progress update; sends it if the phase changed or the interval has passed. */
  update(u: ProgressUpdate): void {
    this.lastUpdate = u;
    if (u.evalLoss !== undefined) this.evalLoss = u.evalLoss;
    if (u.transfer !== undefined) this.transfer = u.transfer;
    const progress = this.build(u);
    const due = u.phase !== this.lastPhase || this.now() - this.lastSentAt >= this.intervalMs;
    if (due) this.send(progress);
    else this.pending = progress;
  }

  /** Records a new checkpoint and sends it immediately (it must be durable before more work is lost). */
  async recordCheckpoint(ref: CheckpointRef, u: ProgressUpdate): Promise<void> {
    this.checkpointRef = ref;
    this.lastUpdate = u;
    this.send(this.build(u));
    await this.flush();
  }

  /** Sends the last held-back update, and waits for every send. Throws if a send failed. */
  async flush(): Promise<void> {
    if (this.pending !== undefined) this.send(this.pending);
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
  }

  private build(u: ProgressUpdate): JobProgress {
    return {
      phase: u.phase,
      step: u.step,
      totalSteps: u.totalSteps,
      loss: u.loss ?? null,
      learningRate: u.learningRate ?? null,
      tokensPerSecond: u.tokensPerSecond ?? null,
      etaSeconds: u.etaSeconds ?? null,
      ...(this.evalLoss !== undefined ? { evalLoss: this.evalLoss } : {}),
      ...(this.checkpointRef !== undefined ? { checkpoint: this.checkpointRef } : {}),
      ...(this.resumedFromStep !== undefined ? { resumedFromStep: this.resumedFromStep } : {}),
      ...(this.transfer !== undefined ? { transfer: this.transfer } : {}),
      ...(u.discriminator !== undefined ? { discriminator: u.discriminator } : {}),
      updatedAt: new Date().toISOString(),
    };
  }

  private send(progress: JobProgress): void {
    this.pending = undefined;
    this.lastPhase = progress.phase;
    this.lastSentAt = this.now();
    this.chain = this.chain.then(() =>
      this.sink(progress).catch((e: unknown) => {
        this.failure ??= e;
      }),
    );
  }
}
