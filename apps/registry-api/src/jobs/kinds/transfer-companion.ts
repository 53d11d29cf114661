/**
 * The `train` result's companion discriminator (Trans-LoRA step 1, issue #7): the worker trains it
 * after the adapter and describes it as an ArtifactResult; the train handler registers it here as
 * a `discriminator` artifact NAMED AFTER THE ADAPTER and linked to the new version, which is where
 * a later `transfer` job looks it up (transfer.kind.ts).
 *
 * It is registered after the version's own transaction (ArtifactService needs the version to
 * exist), idempotently by job id. If that fails, the adapter version stays registered without a
 * companion: the failure is logged and shown in the registration details, and a transfer from it
 * can still run with `hyperparameters.filter = false`.
 */
import { artifactResultIssues, type ArtifactResult, type CompanionDiscriminatorReport } from '@palette/job-contracts';
import type { AuthenticatedKey } from '../../auth';
import { artifactFilesOf, type ArtifactService } from '../../artifacts/artifact.service';
import type { AppLogger } from '../../common';
import { isRecord } from './submission-fields';

export type CompanionResult = CompanionDiscriminatorReport & { readonly artifact?: ArtifactResult };

/** Shape check of `result.companionDiscriminator` (absent: an older worker; fine). */
export function parseCompanion(value: unknown, problems: string[]): CompanionResult | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value) || typeof value.trained !== 'boolean') {
    problems.push('result.companionDiscriminator: expected {trained, skipped?, artifact?, …}');
    return undefined;
  }
  if (value.trained) problems.push(...artifactResultIssues(value.artifact, 'result.companionDiscriminator.artifact'));
  if (value.trained && isRecord(value.artifact) && value.artifact.kind !== 'discriminator') problems.push('result.companionDiscriminator.artifact.kind: expected "discriminator"');
  return value as unknown as CompanionResult;
}

/** Registers the companion as `discriminator/<adapter>`; returns registration details to show. */
export async function registerCompanion(
  artifacts: ArtifactService,
  logger: AppLogger,
  input: { readonly jobId: string; readonly adapter: string; readonly baseModelId: string; readonly adapterVersionId: string; readonly actor: AuthenticatedKey },
  companion: CompanionResult | undefined,
): Promise<Record<string, string | number | boolean | null>> {
  if (companion === undefined) return {};
  if (!companion.trained || companion.artifact === undefined) return { discriminator: null, discriminatorSkipped: companion.skipped ?? 'not trained' };
  const { artifact } = companion;
  const { artifact: registered, created } = await artifacts
    .registerFromJob(
      {
        jobId: input.jobId,
        kind: 'discriminator',
        name: input.adapter,
        baseModelId: input.baseModelId,
        adapterVersionId: input.adapterVersionId,
        format: artifact.format,
        metadata: { ...artifact.metadata, companionOf: input.adapterVersionId },
        description: `Trans-LoRA companion discriminator of ${input.adapter}`,
        files: artifactFilesOf(artifact),
      },
      input.actor,
    )
    .catch((e: unknown) => {
      logger.warn({ jobId: input.jobId, adapter: input.adapter, err: (e as Error).message }, 'companion discriminator not registered');
      return { artifact: undefined, created: false };
    });
  if (registered === undefined) return { discriminator: null, discriminatorSkipped: 'registration failed (see the registry log)' };
  return { discriminator: `discriminator/${registered.name}@v${registered.version}`, discriminatorCreated: created };
}
