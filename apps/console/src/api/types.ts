/**
 * Response shapes of registry-api's REST routes and the router's /v1 routes, written by hand from
 * their DTOs (apps/registry-api/src/**\/*.dto.ts, apps/router/src/openai). Dates arrive as ISO strings.
 */

export type Role = 'reader' | 'writer' | 'admin' | 'service';
export const ROLES: readonly Role[] = ['reader', 'writer', 'admin', 'service'];

export interface Me {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
}

export interface AdapterAlias {
  readonly name: string;
  readonly version: number;
  readonly versionId: string;
  readonly updatedAt: string;
}

export interface Adapter {
  readonly id: string;
  readonly name: string;
  readonly baseModel: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly aliases: readonly AdapterAlias[];
  readonly latestVersion: number | null;
  readonly versionCount: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly deletedAt: string | null;
}

export interface AdapterPage {
  readonly items: readonly Adapter[];
  readonly nextCursor: string | null;
}

export type LineageKind = 'parent' | 'base_model' | 'job' | 'dataset' | 'transferred_from';

export interface LineageEdge {
  readonly kind: LineageKind;
  readonly parentVersion?: string | null;
  readonly ref?: string | null;
}

export interface AdapterVersion {
  readonly id: string;
  readonly adapter: string;
  readonly version: number;
  readonly rank: number;
  readonly targetModules: readonly string[];
  readonly configSha256: string;
  readonly weightsSha256: string;
  readonly contentDigest: string;
  readonly sizeBytes: number;
  readonly config: unknown;
  readonly aliases: readonly string[];
  readonly lineage: readonly LineageEdge[];
  readonly hasSketch: boolean;
  /** What jobs recorded: `training`, `evalLoss`, `evaluations[worldTask]`, `taskAccuracy`, `transfer`… ({} for an upload). */
  readonly metrics?: unknown;
  readonly createdAt: string;
}

/** One `evaluate` job's figures on a world task (metrics.evaluations[worldTask] of an adapter version or base model). */
export interface TaskEvaluation {
  readonly accuracy: number | null;
  readonly correct?: number;
  readonly examples?: number;
  readonly splitSeed?: number;
  readonly maxNewTokens?: number;
  readonly jobId?: string;
  readonly evaluatedAt?: string;
}

export interface Lineage {
  readonly version: string;
  readonly edges: readonly LineageEdge[];
  readonly children: readonly string[];
}

export interface AdapterUploadResult {
  readonly adapter: Adapter;
  readonly version: AdapterVersion;
  readonly created: boolean;
}

export interface SearchHit {
  readonly adapter: Adapter;
  readonly score: number;
  readonly version?: number | null;
}

export interface SearchResult {
  readonly items: readonly SearchHit[];
  /** Vector searches: the embedding space searched. */
  readonly space?: string | null;
  /** Vector searches: 'hnsw', 'exact' or 'exact-fallback'. */
  readonly scan?: string | null;
}

export interface BaseModelSummary {
  readonly family: string;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly parameters: number;
  readonly dtype: string;
  readonly tiedEmbeddings: boolean;
  readonly contextLength: number;
  readonly files: number;
  readonly totalBytes: number;
}

export interface BaseModel {
  readonly id: string;
  readonly name: string;
  readonly family: string;
  readonly summary: BaseModelSummary;
  readonly files: readonly { readonly path: string; readonly sha256: string; readonly size: number }[];
  readonly adapterCount: number;
  /** `pretraining` (a pretrain job built it) and `evaluations[worldTask]` (baseline evaluations). */
  readonly metrics?: unknown;
  readonly createdAt: string;
}

export interface ApiKey {
  readonly id: string;
  readonly publicId: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
}

export interface CreatedApiKey extends ApiKey {
  /** The full key, shown once. */
  readonly key: string;
}

export interface Dataset {
  readonly id: string;
  readonly sha256: string;
  readonly name: string;
  readonly format: string;
  readonly rows: number;
  readonly sizeBytes: number;
  readonly evalFraction: number;
  readonly trainRows: number;
  readonly evalRows: number;
  readonly createdAt: string;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

/**
 * libs/job-contracts JobProgress; `{}` before the first update. The fields below are the training
 * ones; other kinds add their own (a transfer's `acceptanceRate`, an evaluation's `correct`…), shown
 * generically by the job page.
 */
export interface JobProgress {
  readonly phase?: string;
  readonly step?: number;
  readonly totalSteps?: number;
  readonly loss?: number | null;
  readonly learningRate?: number | null;
  readonly tokensPerSecond?: number | null;
  readonly etaSeconds?: number | null;
  readonly evalLoss?: number;
  readonly updatedAt?: string;
  readonly [field: string]: unknown;
}

/** Job.registered: what the job's result registered, once. */
export interface JobRegistered {
  readonly type: 'adapter-version' | 'base-model' | 'evaluation' | 'artifact' | 'none' | string;
  readonly id?: string;
  readonly name?: string;
  readonly details?: unknown;
}

export interface Job {
  readonly id: string;
  readonly kind: string;
  readonly status: JobStatus;
  readonly baseModel: string | null;
  readonly datasetId: string | null;
  readonly datasetSha256: string | null;
  readonly adapter: string | null;
  readonly adapterVersion: string | null;
  /** What the result will register, per kind (train: {adapter, …}; pretrain: {baseModel, …}; evaluate: {worldTask, target, …}). */
  readonly registration?: unknown;
  readonly registered?: JobRegistered | null;
  readonly registeredAt?: string | null;
  readonly payload: unknown;
  readonly progress: JobProgress;
  readonly result: unknown;
  readonly error: string | null;
  readonly attempts: number;
  readonly cancelRequestedAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface JobMetricPoint {
  readonly step: number;
  readonly loss: number | null;
  readonly evalLoss: number | null;
  readonly learningRate: number | null;
  readonly tokensPerSecond: number | null;
  readonly at: string;
}

export interface JobDetail extends Job {
  readonly metricHistory: readonly JobMetricPoint[];
}

export interface JobPage {
  readonly items: readonly Job[];
  readonly nextCursor: string | null;
}

export interface JobLogLine {
  readonly time: string;
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields?: unknown;
}

export interface JobLogs {
  readonly lines: readonly JobLogLine[];
  readonly total: number;
}

export interface JobSubmitResult {
  readonly job: Job;
  readonly created: boolean;
}

export interface Readiness {
  readonly status: 'ready' | 'not_ready';
  readonly checks: Record<string, { readonly ok: boolean; readonly error?: string }>;
}

/** Router: GET /v1/models. */
export interface RouterModel {
  readonly id: string;
  readonly object: 'model';
  readonly parent: string | null;
  readonly root?: string;
}

/**
 * Router: every response's `routing`. Learned routers (meteora | flylora | xcross) name the
 * `router` and report `gate` statistics (weights are null in streamed chunks before the last);
 * `auto` reports the retrieved adapters with their `score`. Per-layer weights appear when a
 * strategy has them.
 */
export interface Routing {
  readonly strategy: string;
  readonly base: string;
  readonly adapters: readonly { readonly id: string; readonly weight: number | null; readonly score?: number }[];
  readonly merge?: string;
  readonly router?: string;
  /** Gate statistics: tokens, meanGateWeight, topKCounts, blockShare, streamWeights, fusionNorms… */
  readonly gate?: Readonly<Record<string, unknown>>;
  /** Learned/implicit strategies: weights per layer (rows) and adapter (columns). */
  readonly layerWeights?: readonly (readonly number[])[];
  readonly [field: string]: unknown;
}

/** Router: GET /v1/lora_adapters (the adapter cache). */
export interface RouterCacheEntry {
  readonly key: string;
  readonly bytes: number;
  readonly pinned: boolean;
  readonly leases?: number;
  readonly hits?: number;
  readonly loadMs?: number;
  readonly lastUsedAt?: string | number;
}

export interface RouterCache {
  readonly data: readonly RouterCacheEntry[];
  readonly bytes: number;
  readonly budget_bytes: number;
}

/** GET /api/v1/system/queues: the BullMQ job states counted per queue, in display order. */
export const QUEUE_COUNT_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'waiting-children', 'paused', 'completed', 'failed'] as const;
export type QueueCountState = (typeof QUEUE_COUNT_STATES)[number];

export interface QueueWorker {
  /** The worker's own name when it set one, else the queue name. */
  readonly name: string;
  readonly addr: string;
  readonly ageSeconds: number;
  readonly idleSeconds: number;
}

export interface QueueHealth {
  readonly kind: string;
  readonly queue: string;
  readonly counts: Readonly<Record<QueueCountState, number>>;
  readonly workers: readonly QueueWorker[];
}

export interface QueuesHealth {
  readonly redis: 'ok' | 'unavailable' | 'unconfigured';
  readonly error?: string;
  readonly queues: readonly QueueHealth[];
}

/** GET /api/v1/artifacts: routers, retrievers and Trans-LoRA discriminators (apps/registry-api/src/artifacts). */
export type ArtifactKind = 'router' | 'retriever' | 'discriminator';
export const ARTIFACT_KINDS: readonly ArtifactKind[] = ['router', 'retriever', 'discriminator'];

export interface ArtifactFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

export interface Artifact {
  readonly id: string;
  readonly kind: ArtifactKind | string;
  readonly name: string;
  readonly version: number;
  readonly format: string;
  readonly description: string | null;
  readonly baseModel: { readonly id: string; readonly name: string } | null;
  /** A discriminator's companion adapter version. */
  readonly adapterVersion: { readonly id: string; readonly adapter: string; readonly version: number } | null;
  /** The given metadata plus `manifest` (what the registry read from the files). */
  readonly metadata: unknown;
  readonly files: readonly ArtifactFile[];
  readonly jobId: string | null;
  readonly createdAt: string;
  readonly deletedAt?: string | null;
}

export interface ArtifactPage {
  readonly items: readonly Artifact[];
  readonly nextCursor: string | null;
}

/** GET /api/v1/embedding-spaces: one per retriever; one active per base model. */
export interface EmbeddingSpace {
  readonly id: string;
  readonly baseModel: string;
  readonly status: 'building' | 'active' | 'retired' | string;
  /** The retriever artifact, name@vN. */
  readonly artifact: string | null;
  readonly artifactId: string | null;
  readonly jobId: string | null;
  readonly weightEmbeddings: number;
  readonly textEmbeddings: number;
  readonly createdAt: string;
  readonly activatedAt: string | null;
  readonly retiredAt: string | null;
}
