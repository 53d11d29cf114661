import type { BatchDecoder, BatchToken, LoraWeights, SamplingOptions } from '@palette/peft-core';
import { routerErrors } from '../common/router-error';
import type { RouterMetrics } from '../metrics/router-metrics';

/** Upper bound on extra event-loop turns between two passes while a burst of requests arrives. */
const MAX_ARRIVAL_TURNS = 8;

/** Why a request stopped: a stop token or stop sequence, its token budget, or its client went away. */
export type FinishReason = 'stop' | 'length' | 'cancelled';

/** One generation job for the engine. */
export interface GenerationJob {
  readonly prompt: readonly number[];
  readonly lora?: LoraWeights;
  readonly sampling: SamplingOptions;
  readonly seed: number;
  readonly maxTokens: number;
  readonly stopTokenIds: ReadonlySet<number>;
  /** Sees every generated token (never a stop token); returning true ends the job with 'stop' (stop sequences). */
  readonly onToken: (token: number) => boolean;
  /** Aborting removes the job from the queue or the batch (client disconnected). */
  readonly signal?: AbortSignal;
}

export interface GenerationOutcome {
  readonly finishReason: FinishReason;
  readonly completionTokens: number;
}

export interface BatchEngineOptions {
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly retryAfterSeconds: number;
}

interface Pending {
  readonly job: GenerationJob;
  readonly resolve: (outcome: GenerationOutcome) => void;
  readonly reject: (error: unknown) => void;
  generated: number;
}

/**
 * Continuous batching for one base model: a FIFO queue in front of a step-level BatchDecoder.
 * Between two decode steps it admits the oldest waiting jobs into free rows (one prefill pass for
 * all of them), then runs one forward pass for every running row — whatever adapter each uses —
 * and retires the rows that finished. Beyond `maxQueue` waiting jobs, submit() fails with 429.
 */
export class BatchEngine {
  private readonly queue: Pending[] = [];
  private readonly running = new Map<number, Pending>();
  private loop: Promise<void> | undefined;
  private stopped = false;
  /** Jobs ever submitted (tells the loop whether requests are still arriving). */
  private submitted = 0;

  constructor(
    private readonly decoder: BatchDecoder,
    private readonly options: BatchEngineOptions,
    private readonly metrics: RouterMetrics,
  ) {}

  get queueDepth(): number {
    return this.queue.length;
  }

  get runningRows(): number {
    return this.running.size;
  }

  submit(job: GenerationJob): Promise<GenerationOutcome> {
    if (this.stopped) return Promise.reject(routerErrors.invalid('the model is shutting down'));
    if (job.signal?.aborted) return Promise.resolve({ finishReason: 'cancelled', completionTokens: 0 });
    // Jobs that would wait for a free row: beyond maxQueue of them, refuse.
    if (this.running.size + this.queue.length >= this.options.maxBatch + this.options.maxQueue) {
      return Promise.reject(routerErrors.queueFull(this.queue.length, this.options.retryAfterSeconds));
    }
    this.submitted += 1;
    return new Promise<GenerationOutcome>((resolve, reject) => {
      this.queue.push({ job, resolve, reject, generated: 0 });
      this.metrics.queueDepth.inc();
      this.loop ??= this.run().finally(() => (this.loop = undefined));
    });
  }

  /** Fails everything waiting or running and refuses new jobs. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped && (this.queue.length > 0 || this.running.size > 0)) {
      try {
        await this.admit();
        await this.step();
      } catch (error) {
        this.failAll(error);
      }
      await this.yieldToArrivals();
    }
    if (this.stopped) this.failAll(routerErrors.invalid('the model is shutting down'));
  }

  /**
   * Lets the event loop run between forward passes so HTTP handlers can enqueue (and clients
   * disconnect). onnxruntime runs a pass synchronously on this thread, so a request needs a few
   * loop turns between passes to get from its socket to submit(); while requests keep arriving and
   * rows are free, yield again (a few turns at most) so a burst joins one prefill instead of
   * trickling in one per pass.
   */
  private async yieldToArrivals(): Promise<void> {
    for (let turn = 0; turn < MAX_ARRIVAL_TURNS; turn++) {
      const before = this.submitted;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.submitted === before || this.running.size + this.queue.length >= this.options.maxBatch) return;
    }
  }

  /** Oldest first, into free rows; cancelled jobs leave the queue without costing a prefill. */
  private async admit(): Promise<void> {
    const free = this.options.maxBatch - this.running.size;
    if (free <= 0 || this.queue.length === 0) return;
    const joining: Pending[] = [];
    while (joining.length < free && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.metrics.queueDepth.dec();
      if (next.job.signal?.aborted) next.resolve({ finishReason: 'cancelled', completionTokens: 0 });
      else joining.push(next);
    }
    if (joining.length === 0) return;
    let first: BatchToken[];
    try {
      first = await this.decoder.admit(
        joining.map((p) => ({ prompt: p.job.prompt, sampling: p.job.sampling, seed: p.job.seed, ...(p.job.lora ? { lora: p.job.lora } : {}) })),
      );
    } catch (error) {
      for (const p of joining) p.reject(error);
      return;
    }
    this.metrics.promptTokens.inc(joining.reduce((n, p) => n + p.job.prompt.length, 0));
    first.forEach((t, i) => this.running.set(t.id, joining[i]!));
    this.metrics.runningRows.set(this.running.size);
    this.deliver(first);
  }

  private async step(): Promise<void> {
    if (this.decoder.size === 0) return;
    this.metrics.observeStep(this.decoder.size, this.decoder.distinctAdapters);
    this.deliver(await this.decoder.step());
  }

  /** Hands each row its token and retires the rows that are done. */
  private deliver(tokens: readonly BatchToken[]): void {
    const finished: number[] = [];
    let produced = 0;
    for (const { id, token } of tokens) {
      const p = this.running.get(id);
      if (p === undefined) continue;
      let reason: FinishReason | undefined;
      if (p.job.signal?.aborted) reason = 'cancelled';
      else if (p.job.stopTokenIds.has(token)) reason = 'stop';
      else {
        p.generated += 1;
        produced += 1;
        let stop: boolean;
        try {
          stop = p.job.onToken(token);
        } catch (error) {
          // One job's failure (e.g. its text cannot be decoded) ends that job only, not the batch.
          finished.push(id);
          this.running.delete(id);
          p.reject(error);
          continue;
        }
        if (stop) reason = 'stop';
        else if (p.generated >= p.job.maxTokens) reason = 'length';
      }
      if (reason !== undefined) {
        finished.push(id);
        this.running.delete(id);
        this.metrics.requests.inc({ finish_reason: reason });
        p.resolve({ finishReason: reason, completionTokens: p.generated });
      }
    }
    if (produced > 0) this.metrics.observeTokens(produced);
    this.decoder.release(finished);
    this.metrics.runningRows.set(this.running.size);
  }

  private failAll(error: unknown): void {
    this.decoder.release([...this.running.keys()]);
    for (const p of this.running.values()) p.reject(error);
    this.running.clear();
    for (const p of this.queue.splice(0)) {
      this.metrics.queueDepth.dec();
      p.reject(error);
    }
    this.metrics.runningRows.set(0);
  }
}
