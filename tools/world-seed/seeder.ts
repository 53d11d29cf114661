/**
 * Builds the evaluation world THROUGH the platform's job API, following a WorldRecipe:
 *   initial base (uploaded) → `pretrain` job → `world-base`
 *   per task: train split (dataset) → `train` job → adapter <task-id> → `evaluate` base / adapter
 * Every job's id is an idempotency key derived from the recipe fingerprint and the step, so a
 * second run skips what succeeded, reattaches to what is running (after a Ctrl-C or a restart of
 * the launcher), retries what failed or was cancelled (it resumes from its last checkpoint), and
 * submits only what is missing. A finished world is recognised in one request: every adapter of
 * the recipe carries the tag `world-complete:<fingerprint8>`, added once its evaluations are in.
 */
import type { JobProgress } from '@palette/job-contracts';
import { recipeTasks, type WorldRecipe, type WorldTask } from '@palette/peft-core';
import { evaluateSpec, pretrainSpec, trainSpec } from './job-specs';
import { formatDuration, formatProgress, labelText, ProgressThrottle, type Log, type StepLabel } from './progress';
import { RegistryError, type JobInfo, type RegistryClient } from './registry-client';
import { initialBase, pretrainCorpusJsonl, taskTrainJsonl, worldNames, type WorldNames } from './world-material';
import { importWorldDir } from './from-dir';
import { SeedError } from './seed-error';

export { SeedError };

export interface SeedOptions {
  readonly client: RegistryClient;
  /** The recipe to build (overrides already applied: see applyOverrides). */
  readonly recipe: WorldRecipe;
  /** Name of the pretrained base (default `world-base`). */
  readonly baseName?: string;
  readonly log: Log;
  /** Least time between two progress lines of one job (default 5 s; phase changes always print). */
  readonly progressEveryMs?: number;
  /** Aborts following jobs (Ctrl-C); the jobs themselves keep running in the workers. */
  readonly signal?: AbortSignal;
  /** Import a world built by `npm run eval:world` from this directory instead of training it. */
  readonly fromDir?: string;
  /**
   * Extra top-level fields of every train job (e.g. `{companionDiscriminator: {enabled: false}}`
   * in tests, where Trans-LoRA's discriminator would double each run). Not part of the recipe.
   */
  readonly trainExtras?: Readonly<Record<string, unknown>>;
  /** How long the job mirror may lag behind a job's final event (default 60 s). */
  readonly settleTimeoutMs?: number;
}

export interface TaskOutcome {
  readonly id: string;
  readonly adapterVersion: string;
  readonly baseAccuracy: number | undefined;
  readonly adapterAccuracy: number | undefined;
}

export interface SeedReport {
  /** `ready`: the registry already held the complete world (nothing submitted). */
  readonly status: 'ready' | 'built';
  readonly fingerprint: string;
  readonly baseName: string;
  /** Job ids submitted by this run (new jobs, and failed ones retried). */
  readonly submitted: string[];
  /** Job ids that had already succeeded. */
  readonly reused: string[];
  /** Job ids this run followed that were already running or queued. */
  readonly reattached: string[];
  readonly tasks: TaskOutcome[];
  readonly seconds: number;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

export async function seedWorld(options: SeedOptions): Promise<SeedReport> {
  return new Seeder(options).run();
}

/** One request: every task's adapter carries the recipe's completion tag (and sits on the right base). */
export async function worldReady(client: RegistryClient, recipe: WorldRecipe, baseName = 'world-base'): Promise<boolean> {
  const names = worldNames(recipe, baseName);
  const done = await client.adaptersTagged(names.completeTag);
  const byName = new Map(done.map((a) => [a.name, a]));
  return recipe.tasks.every((id) => byName.get(id)?.baseModel === baseName);
}

class Seeder {
  private readonly client: RegistryClient;
  private readonly recipe: WorldRecipe;
  private readonly names: WorldNames;
  private readonly log: Log;
  private readonly submitted: string[] = [];
  private readonly reused: string[] = [];
  private readonly reattached: string[] = [];
  private readonly started = Date.now();

  constructor(private readonly options: SeedOptions) {
    this.client = options.client;
    this.recipe = options.recipe;
    this.names = worldNames(options.recipe, options.baseName);
    this.log = (line) => options.log(line);
  }

  async run(): Promise<SeedReport> {
    const { recipe, names } = this;
    const tasks = recipeTasks(recipe);
    this.log(`evaluation world '${recipe.variant}' (recipe ${names.short}): ${tasks.length} tasks on base '${names.base}', registry ${this.client.baseUrl}`);
    if (await worldReady(this.client, recipe, names.base)) {
      this.log(`world ready: base '${names.base}' and ${tasks.length} adapters of recipe ${names.short} are registered and evaluated; nothing to do`);
      return this.report('ready', []);
    }

    const outcomes: TaskOutcome[] = [];
    if (this.options.fromDir !== undefined) {
      await importWorldDir({ client: this.client, recipe, names, dir: this.options.fromDir, log: this.log });
    } else {
      await this.pretrain();
    }
    for (const [i, task] of tasks.entries()) {
      const at = { index: i + 1, total: tasks.length, id: task.id };
      const adapterVersion = this.options.fromDir !== undefined ? await this.importedVersion(task) : await this.train(task, at);
      const baseJob = await this.runJob({ stage: 'evaluate base', task: at }, names.evalJob(task.id, 'base'), async () => evaluateSpec(recipe, names, task, undefined));
      const adapterJob = await this.runJob({ stage: 'evaluate adapter', task: at }, names.evalJob(task.id, 'adapter'), async () => evaluateSpec(recipe, names, task, adapterVersion));
      const outcome: TaskOutcome = { id: task.id, adapterVersion, baseAccuracy: accuracyOf(baseJob), adapterAccuracy: accuracyOf(adapterJob) };
      outcomes.push(outcome);
      // Last: the tag is what the "world ready" check reads, so it means "trained AND evaluated".
      await this.client.addTags(task.id, [names.completeTag]);
      this.log(`${labelText({ stage: 'done', task: at })}: ${adapterVersion}, accuracy base ${pct(outcome.baseAccuracy)} → adapter ${pct(outcome.adapterAccuracy)}`);
    }
    this.log(`world ready: '${names.base}' + ${tasks.length} adapters in ${formatDuration((Date.now() - this.started) / 1000)} (${this.submitted.length} jobs submitted, ${this.reused.length} reused, ${this.reattached.length} reattached)`);
    return this.report('built', outcomes);
  }

  private report(status: SeedReport['status'], tasks: TaskOutcome[]): SeedReport {
    return {
      status,
      fingerprint: this.names.fingerprint,
      baseName: this.names.base,
      submitted: this.submitted,
      reused: this.reused,
      reattached: this.reattached,
      tasks,
      seconds: (Date.now() - this.started) / 1000,
    };
  }

  private async pretrain(): Promise<void> {
    const { client, recipe, names } = this;
    const label: StepLabel = { stage: 'pretrain' };
    await this.runJob(label, names.pretrainJob, async () => {
      // A base of this name that our pretrain job did not make belongs to another recipe (or a
      // person): training over it would fail at registration after minutes of work, so stop now.
      const existing = await client.getBaseModel(names.base);
      if (existing !== undefined) {
        throw new SeedError(
          `the registry already has a base model '${names.base}' that job ${names.pretrainJob} did not build (another recipe's world?). ` +
            `Delete it (DELETE /api/v1/base-models/${names.base}, after its adapters) or seed under another name with --base-name.`,
        );
      }
      const init = await initialBase(recipe);
      if ((await client.getBaseModel(names.initBase)) === undefined) {
        this.log(`pretrain: uploading the initial random base '${names.initBase}' (${(init.parameters / 1e6).toFixed(2)}M parameters, vocab ${init.vocabSize})`);
        await client.uploadBaseModel(names.initBase, init.files);
      }
      const corpus = pretrainCorpusJsonl(recipe, init.tokenizer);
      this.log(`pretrain: uploading the corpus, ${corpus.documents} documents (${(corpus.jsonl.length / 1e6).toFixed(1)} MB${corpus.cut > 0 ? `, ${corpus.cut} cut to the context` : ''})`);
      const dataset = await client.uploadDataset(names.corpusDataset, corpus.jsonl, 0);
      return pretrainSpec(recipe, names, dataset.id);
    });
  }

  private async train(task: WorldTask, at: NonNullable<StepLabel['task']>): Promise<string> {
    const { client, recipe, names } = this;
    const job = await this.runJob({ stage: 'train', task: at }, names.trainJob(task.id), async () => {
      const data = taskTrainJsonl(recipe, task);
      const dataset = await client.uploadDataset(names.taskDataset(task.id), data.jsonl, 0);
      return { ...trainSpec(recipe, names, task, dataset.id), ...this.options.trainExtras };
    });
    if (job.adapterVersion === null) throw new SeedError(`train job ${job.id} succeeded but registered no adapter version`);
    return job.adapterVersion;
  }

  /** --from-dir: the adapter was uploaded by importWorldDir; its latest version is the import. */
  private async importedVersion(task: WorldTask): Promise<string> {
    const adapter = await this.client.getAdapter(task.id);
    if (adapter?.latestVersion == null) throw new SeedError(`adapter '${task.id}' is missing after the import`);
    return `${task.id}@v${adapter.latestVersion}`;
  }

  /**
   * Runs one job to success: skips it when it already succeeded, reattaches when it is queued or
   * running, retries it when it failed or was cancelled, and otherwise submits `makeSpec()`.
   */
  private async runJob(label: StepLabel, key: string, makeSpec: () => Promise<Record<string, unknown>>): Promise<JobInfo> {
    const { client } = this;
    const text = labelText(label);
    let job = await client.getJob(key);
    if (job?.status === 'succeeded') {
      this.reused.push(key);
      this.log(`${text}: done earlier (job ${key})`);
      return job;
    }
    if (job === undefined) {
      const submitted = await client.submitJob(key, await makeSpec());
      job = submitted.job;
      this.submitted.push(key);
      this.log(`${text}: submitted job ${key}`);
    } else if (job.status === 'failed' || job.status === 'cancelled') {
      this.log(`${text}: job ${key} ${job.status} earlier (${job.error ?? 'no reason'}); retrying it from its last checkpoint`);
      await client.retryJob(key);
      this.submitted.push(key);
    } else {
      this.reattached.push(key);
      this.log(`${text}: reattached to job ${key} (${job.status})`);
    }
    await this.follow(label, key);
    const final = await this.settled(key);
    if (final.status !== 'succeeded') throw new SeedError(`${text}: job ${key} ${final.status}: ${final.error ?? 'no reason given'} (GET /api/v1/jobs/${key}/logs)`);
    const secs = final.startedAt && final.finishedAt ? (Date.parse(String(final.finishedAt)) - Date.parse(String(final.startedAt))) / 1000 : undefined;
    this.log(`${text}: succeeded${secs !== undefined ? ` in ${formatDuration(secs)}` : ''}${summaryOf(final)}`);
    return final;
  }

  /** Prints the job's progress from its event stream until the stream ends; reconnects if it drops. */
  private async follow(label: StepLabel, key: string): Promise<void> {
    const throttle = new ProgressThrottle(this.options.progressEveryMs ?? 5_000);
    const show = (p: Partial<JobProgress> | undefined): void => {
      if (p !== undefined && p.phase !== undefined && throttle.shouldPrint(p.phase)) this.log(formatProgress(label, p));
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.followJob(
          key,
          (e) => {
            if (e.event === 'progress') show(e.data as Partial<JobProgress>);
            else if (e.event === 'state') {
              const state = e.data as { status?: string; progress?: Partial<JobProgress> };
              // A queued job reports nothing until a worker takes it: say why the line is quiet.
              if (state.status === 'queued' && state.progress?.phase === undefined) this.log(`${labelText(label)}  queued (waiting for a free worker)`);
              else show(state.progress);
            }
          },
          this.options.signal,
        );
        return;
      } catch (e) {
        if (this.options.signal?.aborted) throw e;
        // The stream dropped (registry restarted, network): the job runs on; look and reconnect.
        const job = await this.client.getJob(key).catch(() => undefined);
        if (job !== undefined && TERMINAL.has(job.status)) return;
        if (attempt >= 20) throw e;
        this.log(`${labelText(label)}: event stream lost (${(e as Error).message}); reconnecting`);
        await sleep(1_000 * Math.min(attempt + 1, 5), this.options.signal);
      }
    }
  }

  /** The job row once the registry's mirror has recorded its final state. */
  private async settled(key: string): Promise<JobInfo> {
    const deadline = Date.now() + (this.options.settleTimeoutMs ?? 60_000);
    for (;;) {
      const job = await this.client.getJob(key);
      if (job === undefined) throw new SeedError(`job ${key} disappeared from the registry`);
      if (TERMINAL.has(job.status) && (job.status !== 'succeeded' || job.kind !== 'train' || job.adapterVersion !== null)) return job;
      if (Date.now() > deadline) throw new SeedError(`job ${key} did not reach a final state in the registry (still ${job.status})`);
      await sleep(200, this.options.signal);
    }
  }
}

function accuracyOf(job: JobInfo): number | undefined {
  const metrics = (job.result as { metrics?: { accuracy?: unknown } } | null)?.metrics;
  return typeof metrics?.accuracy === 'number' ? metrics.accuracy : undefined;
}

function summaryOf(job: JobInfo): string {
  const m = (job.result as { metrics?: Record<string, unknown> } | null)?.metrics;
  if (m === undefined) return '';
  if (typeof m.accuracy === 'number') return ` (accuracy ${pct(m.accuracy)}, ${String(m.correct)}/${String(m.examples)})`;
  if (typeof m.finalLoss === 'number') return ` (final loss ${m.finalLoss.toFixed(4)}, ${String(m.steps)} steps)${job.adapterVersion ? ` → ${job.adapterVersion}` : ''}`;
  return '';
}

export function pct(x: number | undefined): string {
  return x === undefined ? '?' : `${(100 * x).toFixed(1)}%`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    }, { once: true });
  });
}

export { RegistryError };
