import type { RoutedModel, RouterGateStats } from '@palette/peft-core';
import { routerErrors } from '../common/router-error';
import type { FinishReason, GenerationJob } from '../engine/batch-engine';
import type { RouterMetrics } from '../metrics/router-metrics';

export interface RoutedOutcome {
  readonly finishReason: FinishReason;
  readonly completionTokens: number;
  readonly stats: RouterGateStats;
}

interface Pending {
  readonly job: Omit<GenerationJob, 'lora'>;
  readonly resolve: (outcome: RoutedOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Batching for one learned router: requests naming the router run in their own batches, because
 * their graph (gates, n X-Cross streams, FlyLoRA's rank selection) is not the pool wiring the
 * base's BatchEngine runs. Batches are static: the waiting requests (oldest first, up to
 * maxBatch) start together with one left-padded prefill and decode until the last one ends;
 * rows that finish early leave the KV cache, and requests that arrive meanwhile wait for the
 * next batch. Each row keeps its own sampling options and seed, so a request returns what it
 * returns alone. Beyond maxBatch + maxQueue requests in flight → 429.
 */
export class RoutedEngine {
  private readonly queue: Pending[] = [];
  private runningRows = 0;
  private loop: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly model: RoutedModel,
    private readonly options: { readonly maxBatch: number; readonly maxQueue: number; readonly retryAfterSeconds: number; readonly padTokenId: number },
    private readonly metrics: RouterMetrics,
  ) {}

  submit(job: Omit<GenerationJob, 'lora'>): Promise<RoutedOutcome> {
    if (this.stopped) return Promise.reject(routerErrors.invalid('the router is shutting down'));
    if (this.runningRows + this.queue.length >= this.options.maxBatch + this.options.maxQueue) {
      return Promise.reject(routerErrors.queueFull(this.queue.length, this.options.retryAfterSeconds));
    }
    return new Promise<RoutedOutcome>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.metrics.queueDepth.inc();
      this.loop ??= this.run().finally(() => (this.loop = undefined));
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.model.dispose();
  }

  private async run(): Promise<void> {
    // One turn so that requests arriving together (a burst) share the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (!this.stopped && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.metrics.queueDepth.dec(batch.length);
      await this.runBatch(batch);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    for (const p of this.queue.splice(0)) {
      this.metrics.queueDepth.dec();
      p.reject(routerErrors.invalid('the router is shutting down'));
    }
  }

  private async runBatch(batch: readonly Pending[]): Promise<void> {
    const live = batch.filter((p) => {
      if (!p.job.signal?.aborted) return true;
      p.resolve({ finishReason: 'cancelled', completionTokens: 0, stats: emptyStats(this.model) });
      return false;
    });
    if (live.length === 0) return;
    const reasons: (FinishReason | undefined)[] = live.map(() => undefined);
    const counts = live.map(() => 0);
    this.runningRows = live.length;
    this.metrics.runningRows.inc(live.length);
    this.metrics.promptTokens.inc(live.reduce((n, p) => n + p.job.prompt.length, 0));
    try {
      // Stop tokens, budgets, stop sequences and cancellation are per request: shouldStop sees
      // every token (stopTokenIds [] so that the model never ends a row on its own rules).
      const results = await this.model.generate(
        live.map((p) => p.job.prompt),
        {
          maxNewTokens: Math.max(...live.map((p) => p.job.maxTokens)),
          stopTokenIds: [],
          padTokenId: this.options.padTokenId,
          rows: live.map((p) => ({ sampling: p.job.sampling, seed: p.job.seed })),
          // Routed batches count in the same histograms as the base engine's steps; the adapters
          // a routed step runs are the router's experts (FlyLoRA: its one merged adapter).
          onStep: (rows) => this.metrics.observeStep(rows, Math.max(1, this.model.kind === 'flylora' ? 1 : this.model.artifact.manifest.experts.length)),
          shouldStop: (row, generated) => {
            const p = live[row]!;
            const token = generated.at(-1)!;
            this.metrics.observeTokens(1);
            if (p.job.signal?.aborted) reasons[row] = 'cancelled';
            else if (p.job.stopTokenIds.has(token)) reasons[row] = 'stop';
            else {
              counts[row]! += 1;
              if (p.job.onToken(token)) reasons[row] = 'stop';
              else if (counts[row]! >= p.job.maxTokens) reasons[row] = 'length';
            }
            return reasons[row] !== undefined;
          },
        },
      );
      results.forEach((r, i) => {
        const reason = reasons[i] ?? 'length';
        this.metrics.requests.inc({ finish_reason: reason });
        live[i]!.resolve({ finishReason: reason, completionTokens: counts[i]!, stats: r.stats });
      });
    } catch (error) {
      for (const p of live) p.reject(error);
    } finally {
      this.runningRows = 0;
      this.metrics.runningRows.dec(live.length);
    }
  }
}

function emptyStats(model: RoutedModel): RouterGateStats {
  return { strategy: model.kind, experts: [...model.artifact.manifest.experts], tokens: 0 };
}
