/**
 * `--from-dir`: instead of training, uploads a world that `npm run eval:world` built in-process
 * (`.data/world/<variant>`: base/, adapters/<task>/, world-manifest.json) through the same REST
 * API, so the catalog looks as if the jobs had run, except for where things came from: each
 * adapter's card says it was imported, from which directory and build, and it is tagged
 * `source:import`. Evaluate jobs then score it on the platform like a trained world.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { recipeTasks, type WorldRecipe } from '@palette/peft-core';
import { readManifest } from '../world/world-manifest';
import { adapterDescription } from './job-specs';
import type { Log } from './progress';
import type { RegistryClient, UploadFile } from './registry-client';
import { SeedError } from './seed-error';
import type { WorldNames } from './world-material';

export interface ImportOptions {
  readonly client: RegistryClient;
  readonly recipe: WorldRecipe;
  readonly names: WorldNames;
  readonly dir: string;
  readonly log: Log;
}

async function filesOf(dir: string): Promise<UploadFile[]> {
  const names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  return Promise.all(names.map(async (name) => ({ name, bytes: await readFile(path.join(dir, name)) })));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function importWorldDir({ client, recipe, names, dir, log }: ImportOptions): Promise<void> {
  const worldDir = path.resolve(dir);
  const manifest = await readManifest(worldDir);
  if (manifest === undefined) throw new SeedError(`--from-dir ${worldDir}: no world-manifest.json (build it with \`npm run eval:world -- --variant ${recipe.variant}\`)`);
  if (manifest.recipeFingerprint !== names.fingerprint) {
    throw new SeedError(`--from-dir ${worldDir}: built from recipe ${manifest.recipeFingerprint.slice(0, 8)}, not ${names.short} (the '${recipe.variant}' recipe now); rebuild it with \`npm run eval:world -- --variant ${recipe.variant} --rebuild\``);
  }
  const provenance = `imported by the world seeder from ${worldDir} (built in-process by tools/world on ${manifest.machine.builtAt}, recipe ${names.short})`;

  const baseFiles = await filesOf(path.join(worldDir, manifest.base.dir));
  const existing = await client.getBaseModel(names.base);
  if (existing === undefined) {
    log(`import: uploading base '${names.base}' from ${path.join(worldDir, manifest.base.dir)}`);
    await client.uploadBaseModel(names.base, baseFiles);
  } else {
    // Same bytes: an earlier import (resume). Other bytes: another world holds the name.
    const ours = new Map(baseFiles.map((f) => [f.name, sha256(f.bytes)]));
    const same = existing.files.every((f) => ours.get(f.path) === f.sha256) && existing.files.length === ours.size;
    if (!same) throw new SeedError(`the registry already has a base model '${names.base}' with other files than ${worldDir}/base; delete it or import under another name with --base-name`);
    log(`import: base '${names.base}' already registered from this directory`);
  }

  const byId = new Map(manifest.tasks.map((t) => [t.id, t]));
  for (const task of recipeTasks(recipe)) {
    const entry = byId.get(task.id);
    if (entry === undefined) throw new SeedError(`--from-dir ${worldDir}: the manifest has no adapter for task ${task.id}`);
    const files = await filesOf(path.join(worldDir, entry.adapterDir));
    const card = [
      `# ${task.title}`,
      '',
      ...task.descriptions.map((d) => `- ${d}`),
      '',
      `Provenance: ${provenance}. Final training loss ${entry.finalLoss.toFixed(4)} after ${entry.trainSeconds.toFixed(0)} s.`,
      '',
    ].join('\n');
    const parts: UploadFile[] = [
      ...files.filter((f) => f.name === 'adapter_config.json').map((f) => ({ name: 'adapter_config', bytes: f.bytes })),
      ...files.filter((f) => f.name === 'adapter_model.safetensors').map((f) => ({ name: 'adapter_model', bytes: f.bytes })),
      { name: 'readme', bytes: Buffer.from(card) },
    ];
    const result = await client.uploadAdapter(
      { name: task.id, baseModel: names.base, description: adapterDescription(task), tags: [...names.adapterTags(task.id), 'source:import'].join(',') },
      parts,
    );
    // Multipart fields travel with CRLF line breaks (the HTML form rule FormData follows): set the
    // description again as JSON so it reads exactly as a train job registers it.
    if (result.adapter.description !== adapterDescription(task)) await client.setDescription(task.id, adapterDescription(task));
    log(`import: adapter ${task.id}@v${result.version.version} ${result.created ? 'uploaded' : 'already registered'}`);
  }
}
