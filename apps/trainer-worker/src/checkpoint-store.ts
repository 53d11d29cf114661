/**
 * Training checkpoints in the object store. A checkpoint is peft-core's checkpoint directory
 * (state JSON + tensors) stored file by file, plus a manifest blob naming those files; the
 * manifest's address is what the job's progress records. Files are stored before the manifest,
 * so a manifest address always names a complete checkpoint, even if the worker dies mid-save.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { loadTrainingCheckpoint, saveTrainingCheckpoint, type TrainingCheckpoint } from '@palette/peft-core';
import type { CheckpointManifest, CheckpointRef } from '@palette/job-contracts';
import type { BlobStore } from '@palette/object-store';
import { downloadFiles, readBlob, uploadFiles } from './blob-files';
import { WorkerError } from './errors';

export async function storeCheckpoint(store: BlobStore, jobId: string, checkpoint: TrainingCheckpoint, scratchDir: string): Promise<CheckpointRef> {
  const dir = path.join(scratchDir, `checkpoint-${checkpoint.step}`);
  await fsp.rm(dir, { recursive: true, force: true });
  try {
    await saveTrainingCheckpoint(dir, checkpoint);
    const stored = await uploadFiles(store, dir);
    const manifest: CheckpointManifest = {
      formatVersion: 1,
      jobId,
      step: checkpoint.step,
      files: Object.fromEntries(Object.entries(stored).map(([name, f]) => [name, f.sha256])),
    };
    const { sha256 } = await store.put(Readable.from([Buffer.from(JSON.stringify(manifest))]));
    return { step: checkpoint.step, manifest: sha256 };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

export async function fetchCheckpoint(store: BlobStore, jobId: string, ref: CheckpointRef, scratchDir: string): Promise<TrainingCheckpoint> {
  const manifest = JSON.parse((await readBlob(store, ref.manifest)).toString('utf8')) as CheckpointManifest;
  if (manifest.formatVersion !== 1 || manifest.jobId !== jobId || manifest.step !== ref.step || typeof manifest.files !== 'object') {
    throw new WorkerError('CHECKPOINT_INVALID', `checkpoint manifest ${ref.manifest} does not describe step ${ref.step} of job ${jobId}`);
  }
  const dir = path.join(scratchDir, `resume-${ref.step}`);
  await fsp.rm(dir, { recursive: true, force: true });
  try {
    await downloadFiles(store, manifest.files, dir);
    return await loadTrainingCheckpoint(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
