/**
 * The captions of a registered adapter version, as every retrieval path derives them (the
 * in-process embed, the `embed` job payload, the `train-retriever` job payload): peft-core
 * `adapterCaptions` of the adapter's description, the version's card and the adapter's tags.
 */
import { adapterCaptions } from '@palette/peft-core';

export const DEFAULT_CAPTIONS_PER_VERSION = 24;

/** The Prisma select a caption needs on AdapterVersion. */
export const CAPTION_SELECT = {
  card: true,
  adapter: { select: { name: true, description: true, tags: { select: { tag: { select: { name: true } } } } } },
} as const;

export interface CaptionRow {
  readonly card: string;
  readonly adapter: { readonly name: string; readonly description: string; readonly tags: ReadonlyArray<{ readonly tag: { readonly name: string } }> };
}

export function versionCaptions(row: CaptionRow, maxCaptions: number = DEFAULT_CAPTIONS_PER_VERSION): string[] {
  return adapterCaptions({ description: row.adapter.description, card: row.card, tags: row.adapter.tags.map((t) => t.tag.name) }, { maxCaptions });
}

/** How many captions a space's retriever was trained with (its artifact's metadata.options), else the default. */
export function captionsPerVersionOf(artifactMetadata: unknown): number {
  const options = (artifactMetadata as { options?: { captionsPerAdapter?: unknown } } | null)?.options;
  const n = options?.captionsPerAdapter;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : DEFAULT_CAPTIONS_PER_VERSION;
}
