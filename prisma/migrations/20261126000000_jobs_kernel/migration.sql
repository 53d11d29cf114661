-- jobs_kernel: per-kind result registration (one marker for every kind), base-model metrics.

-- Job.registeredAt is THE "result registered" marker for every kind (set in the same transaction as
-- what the result wrote); Job.registered says what was registered ({type, id, name, ...}).
ALTER TABLE "Job" ADD COLUMN "registeredAt" TIMESTAMP(3),
ADD COLUMN "registered" JSONB;
-- Train jobs registered before this migration: their adapter version link was the marker.
UPDATE "Job" SET "registeredAt" = "updatedAt",
  "registered" = jsonb_build_object('type', 'adapter-version', 'id', "adapterVersionId")
  WHERE "adapterVersionId" IS NOT NULL;

-- BaseModel.metrics: pretraining lineage/metrics of a base built by a pretrain job, and
-- evaluations[worldTask] written by evaluate jobs that ran without an adapter.
ALTER TABLE "BaseModel" ADD COLUMN "metrics" JSONB NOT NULL DEFAULT '{}';
