-- jobs_datasets: what the job API and dataset uploads need on top of 0001_init.
-- Job.id is the BullMQ job id, which is the job's idempotency key.

-- Dataset: content-addressed (one row per distinct JSONL blob), with its split counts.
DROP INDEX "Dataset_sha256_idx";
ALTER TABLE "Dataset" ADD COLUMN "evalFraction" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN "trainRows" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "evalRows" INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX "Dataset_sha256_key" ON "Dataset"("sha256");

-- Job: what it trains on and registers, its metric history and its registered result.
ALTER TABLE "Job" ADD COLUMN "baseModelId" TEXT,
ADD COLUMN "datasetId" TEXT,
ADD COLUMN "registration" JSONB,
ADD COLUMN "adapterVersionId" TEXT,
ADD COLUMN "metricHistory" JSONB NOT NULL DEFAULT '[]',
ADD COLUMN "cancelRequestedAt" TIMESTAMP(3);
CREATE INDEX "Job_adapterVersionId_idx" ON "Job"("adapterVersionId");
CREATE INDEX "Job_createdAt_idx" ON "Job"("createdAt");
CREATE INDEX "Job_baseModelId_idx" ON "Job"("baseModelId");
CREATE INDEX "Job_datasetId_idx" ON "Job"("datasetId");

ALTER TABLE "Job" ADD CONSTRAINT "Job_baseModelId_fkey" FOREIGN KEY ("baseModelId") REFERENCES "BaseModel"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "Job" ADD CONSTRAINT "Job_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "Job" ADD CONSTRAINT "Job_adapterVersionId_fkey" FOREIGN KEY ("adapterVersionId") REFERENCES "AdapterVersion"("id") ON DELETE SET NULL ON UPDATE CASCADE;
