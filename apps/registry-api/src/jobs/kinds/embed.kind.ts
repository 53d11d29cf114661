/**
 * `embed` (issue #6): one adapter version into one embedding space. Platform-only: the registry
 * enqueues it after a version is registered (EmbeddingSpacesService.afterVersionRegistered, one
 * job per (version, space), job id `embed-<version>-<space>`) and after a new space became active
 * (back-fill); it is not submittable over the API.
 *
 * Result: the version's weight vector and the mean text vector of its captions, written into the
 * space in the result transaction. A space retired meanwhile, or a version deleted meanwhile, gets
 * nothing written (the job still registers, as `none` with the reason), so vectors never land in a
 * space no query reads.
 */
import { Injectable } from '@nestjs/common';
import { EMBEDDING_SPACE_PATTERN, type EmbedJobResult } from '@palette/job-contracts';
import { domainErrors } from '../../common';
import { EMBEDDING_DIMENSIONS } from '../../database/vectors';
import { EmbeddingSpacesService } from '../../retrieval/embedding-spaces.service';
import type { JobKindHandler, RegisteredResult, ResultContext } from './job-kind-handler';

/** What an embed job's Job.registration holds (written by EmbeddingSpacesService.enqueueEmbeds). */
interface EmbedRegistration {
  readonly adapter: string;
  readonly adapterVersion: string;
  readonly adapterVersionId: string;
  readonly space: string;
}

@Injectable()
export class EmbedKind implements JobKindHandler<'embed', never, EmbedJobResult> {
  readonly kind = 'embed' as const;

  constructor(private readonly spaces: EmbeddingSpacesService) {}

  parseResult(result: Readonly<Record<string, unknown>>, problems: string[]): EmbedJobResult | undefined {
    const before = problems.length;
    if (typeof result.adapterVersionId !== 'string' || result.adapterVersionId === '') problems.push('result.adapterVersionId: expected an adapter version id');
    if (typeof result.space !== 'string' || !EMBEDDING_SPACE_PATTERN.test(result.space)) problems.push('result.space: expected an embedding space id');
    if (result.dim !== EMBEDDING_DIMENSIONS) problems.push(`result.dim: expected ${EMBEDDING_DIMENSIONS} (the registry's vector size), got ${JSON.stringify(result.dim ?? null)}`);
    vectorIssues(result.weight, 'result.weight', problems);
    if (result.text !== null) vectorIssues(result.text, 'result.text', problems);
    return problems.length === before ? (result as unknown as EmbedJobResult) : undefined;
  }

  async registerResult(result: EmbedJobResult, ctx: ResultContext): Promise<RegisteredResult> {
    const reg = ctx.job.registration as EmbedRegistration | null;
    if (!reg?.space) throw domainErrors.conflict(`job ${ctx.job.id} has no embed registration`, { job: ctx.job.id });
    if (result.space !== reg.space) throw domainErrors.validation(`result.space: ${JSON.stringify(result.space)} is not the job's space ${reg.space}`);
    if (result.adapterVersionId !== reg.adapterVersionId) throw domainErrors.validation(`result.adapterVersionId: ${JSON.stringify(result.adapterVersionId)} is not the job's version ${reg.adapterVersionId}`);
    const registered = await ctx.commit(async (tx): Promise<RegisteredResult> => {
      const space = await tx.embeddingSpace.findUnique({ where: { id: reg.space }, select: { status: true } });
      const base = { type: 'none' as const, id: reg.adapterVersionId, name: reg.adapterVersion };
      if (!space || space.status === 'retired') return { ...base, details: { space: reg.space, written: false, reason: 'the space is retired' } };
      const alive = await tx.adapterVersion.findFirst({ where: { id: reg.adapterVersionId, adapter: { deletedAt: null } }, select: { id: true } });
      if (!alive) return { ...base, details: { space: reg.space, written: false, reason: 'the adapter version was deleted' } };
      await this.spaces.writeVectors(tx, reg.space, [{ versionId: reg.adapterVersionId, weight: result.weight, text: result.text }]);
      return { ...base, details: { space: reg.space, written: true, text: result.text !== null } };
    });
    if (registered.details?.written === true) this.spaces.notifyChanged();
    return registered;
  }
}

function vectorIssues(value: unknown, field: string, problems: string[]): void {
  if (!Array.isArray(value) || value.length !== EMBEDDING_DIMENSIONS || !value.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    problems.push(`${field}: expected ${EMBEDDING_DIMENSIONS} finite numbers`);
    return;
  }
  const norm = Math.hypot(...(value as number[]));
  if (Math.abs(norm - 1) > 1e-3) problems.push(`${field}: expected a unit vector, its norm is ${norm.toFixed(4)}`);
}
