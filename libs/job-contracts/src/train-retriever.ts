/**
 * Retrieval jobs (issue #6).
 *
 * `train-retriever`: trains an AutoLoRA retriever (peft-core retrieval/: weight encoder + text
 * projection, contrastive) over the adapter versions of one base that have captions, registers it
 * as a "retriever" artifact, and embeds EVERY listed version of the base with it in the same job,
 * so the registry can install the new embedding space and switch to it in one step (a space is
 * never active half-embedded). The vectors travel as one blob (float32 little-endian rows
 * `[weight | text]` of `dim` each, in `versions` order), not as JSON.
 *
 * `embed` (platform-only, enqueued by the registry after an adapter version is registered, one job
 * per (version, space)): the version's weight vector and the normalised mean of its captions' text
 * vectors in the named space. Its payload schema lives in payloads.ts; the shapes shared by both
 * jobs live here.
 *
 * Like transfer.ts, nothing is imported from payloads.ts (which imports this file).
 */
import type { ArtifactResult } from './artifacts';
import { adapterFilesSchema, modelFilesSchema, sha256Schema, type StoredFile } from './blobs';
import { arrayOf, nested, number, object, oneOf, recordOf, required, string, withDefault, type Infer } from './validation';

/** `autolora-v1-<12 hex>` (peft-core retrieverSpaceId). */
export const EMBEDDING_SPACE_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$/;
/** Versions one train-retriever job embeds (the payload lists them all; beyond this, see the registry's retrieval README). */
export const MAX_RETRIEVER_VERSIONS = 10_000;
/** Captions per adapter version (peft-core adapterCaptions' default is 24). */
export const MAX_CAPTIONS_PER_VERSION = 64;
export const MAX_CAPTION_CHARS = 2000;
/** What the text side projects: the frozen encoder's pooled features, or those + the hashed lexical channel. */
export const RETRIEVER_TEXT_FEATURES = ['base', 'base+lexical'] as const;
export type RetrieverTextFeatures = (typeof RETRIEVER_TEXT_FEATURES)[number];

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const embeddingSpaceSchema = string({ pattern: EMBEDDING_SPACE_PATTERN, patternName: 'an embedding space id (e.g. autolora-v1-3f9a0c1d2e4b)' });
const captionList = arrayOf(string({ minLength: 1, maxLength: MAX_CAPTION_CHARS }), { maxItems: MAX_CAPTIONS_PER_VERSION });
export const captionsSchema = withDefault(captionList, [] as string[]);
/** The base a retriever belongs to: its registry name (part of the text encoder's id) and files. */
export const retrieverBaseSchema = object({
  name: required(string({ minLength: 1, maxLength: 200 })),
  files: required(modelFilesSchema),
});
/** A retriever artifact's files: path → blob address (retriever.json, retriever.safetensors). */
export const retrieverFilesSchema = recordOf(sha256Schema, { keyPattern: /^[A-Za-z0-9_.-]{1,128}$/, keyPatternName: 'an artifact file name', requiredKeys: ['retriever.json', 'retriever.safetensors'] });

export const trainRetrieverOptionsSchema = object({
  steps: withDefault(number({ integer: true, min: 1, max: 100_000 }), 300),
  /** τ of the InfoNCE logits. */
  temperature: withDefault(number({ greaterThan: 0, max: 10 }), 0.1),
  /** Captions kept per adapter (description sentences, card paragraphs, title, tags: peft-core adapterCaptions). */
  captionsPerAdapter: withDefault(number({ integer: true, min: 1, max: MAX_CAPTIONS_PER_VERSION }), 24),
  batchSize: withDefault(number({ integer: true, min: 2, max: 256 }), 16),
  lr: withDefault(number({ greaterThan: 0, max: 1 }), 3e-3),
  seed: withDefault(number({ integer: true, min: 0, max: 0xffffffff }), 1),
  textFeatures: withDefault(oneOf(RETRIEVER_TEXT_FEATURES), 'base+lexical'),
  /** Hash buckets of the lexical channel (textFeatures "base+lexical"). */
  lexicalBuckets: withDefault(number({ integer: true, min: 16, max: 65_536 }), 4096),
});
export type TrainRetrieverOptions = Infer<typeof trainRetrieverOptionsSchema>;

export const trainRetrieverPayloadSchema = object({
  /** Artifact name the retriever is registered under (a new version when it exists). */
  name: required(string({ pattern: NAME_PATTERN, patternName: 'a retriever name (letters, digits, . _ -, ≤ 128)' })),
  baseModel: required(retrieverBaseSchema),
  /** Every adapter version of the base at submit time: those with captions are trained on, all are embedded. */
  versions: required(
    arrayOf(
      object({
        id: required(string({ minLength: 1, maxLength: 64 })),
        ref: required(string({ pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}@v\d+$/, patternName: 'an adapter version reference name@vN' })),
        files: required(adapterFilesSchema),
        // Required here (arrayOf items are typed by their output, so a defaulted field would read as optional).
        captions: required(captionList),
      }),
      { minItems: 2, maxItems: MAX_RETRIEVER_VERSIONS },
    ),
  ),
  options: nested(trainRetrieverOptionsSchema),
});
export type TrainRetrieverJobPayload = Infer<typeof trainRetrieverPayloadSchema>;

/** Relations the schema cannot express (each names its field): checked at submit time and by the worker. */
export function trainRetrieverPayloadIssues(p: TrainRetrieverJobPayload): string[] {
  const issues: string[] = [];
  const trained = p.versions.filter((v) => v.captions.length > 0).length;
  if (trained < 2) issues.push(`versions: contrastive training needs at least 2 adapter versions with a description, got ${trained}`);
  if (new Set(p.versions.map((v) => v.id)).size !== p.versions.length) issues.push('versions: the same adapter version is listed twice');
  return issues;
}

/** float32 LE rows [weight | text] per version, `dim` each; text zeros where `text[i]` is false. */
export interface EmbeddingsBlob {
  readonly file: StoredFile;
  readonly dim: number;
  /** Adapter version ids, row order. */
  readonly versions: readonly string[];
  /** Whether row i has a text vector (a version without captions has none). */
  readonly text: readonly boolean[];
}

export interface TrainRetrieverJobResult {
  readonly kind: 'train-retriever';
  readonly artifact: ArtifactResult;
  /** The artifact's embedding space id (its manifest's). */
  readonly space: string;
  readonly embeddings: EmbeddingsBlob;
  readonly metrics: {
    readonly steps: number;
    readonly finalLoss: number;
    /** Versions trained on (with captions) and their captions. */
    readonly adapters: number;
    readonly captions: number;
    readonly embedded: number;
    readonly durationSeconds: number;
  };
}

/** What an embed job returns: one version's vectors in one space (unit vectors, `dim` each). */
export interface EmbedJobResult {
  readonly kind: 'embed';
  readonly adapterVersionId: string;
  readonly space: string;
  readonly dim: number;
  readonly weight: readonly number[];
  /** Absent when the version has no captions. */
  readonly text: readonly number[] | null;
}
