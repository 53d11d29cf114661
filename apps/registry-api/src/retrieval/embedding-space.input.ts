import { domainErrors } from '../common';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseSpaceList(raw: Record<string, unknown>): { baseModel?: string } {
  const baseModel = raw.baseModel;
  if (baseModel === undefined || baseModel === '') return {};
  if (typeof baseModel !== 'string' || !NAME.test(baseModel)) throw domainErrors.validation(`'baseModel' must be a base model name, got ${JSON.stringify(baseModel)}`, { field: 'baseModel' });
  return { baseModel };
}

export function parseInstallSpace(body: unknown): { artifactId: string } {
  const artifactId = typeof body === 'object' && body !== null ? (body as { artifactId?: unknown }).artifactId : undefined;
  if (typeof artifactId !== 'string' || !UUID.test(artifactId)) {
    throw domainErrors.validation(`'artifactId' is required: the id of a retriever artifact (a UUID), got ${JSON.stringify(artifactId ?? null)}`, { field: 'artifactId' });
  }
  return { artifactId };
}
