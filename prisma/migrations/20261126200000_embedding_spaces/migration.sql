-- embedding_spaces: versioned embedding spaces of learned retrievers (AutoLoRA).
--
-- One row per retriever space id (peft-core retrieverSpaceId, 'autolora-v1-<digest>'). A space belongs
-- to one base model (its weight encoder's layout and its text encoder are that base's), and at most one
-- space per base model is `active`: the search routes, the embed hook and `auto` routing use it.
-- Embedding rows carry the space id in "space"; every vector query filters by space, so vectors of two
-- spaces are never compared. The weight-sketch space 'sketch-v1' has no row here (it is not learned).

-- CreateEnum
CREATE TYPE "EmbeddingSpaceStatus" AS ENUM ('building', 'active', 'retired');

-- CreateTable
CREATE TABLE "EmbeddingSpace" (
    "id" TEXT NOT NULL,
    "baseModelId" TEXT NOT NULL,
    "artifactId" TEXT,
    "status" "EmbeddingSpaceStatus" NOT NULL DEFAULT 'building',
    "jobId" TEXT,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "activatedAt" TIMESTAMP(3),
    "retiredAt" TIMESTAMP(3),

    CONSTRAINT "EmbeddingSpace_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "EmbeddingSpace_baseModelId_status_idx" ON "EmbeddingSpace"("baseModelId", "status");
CREATE UNIQUE INDEX "EmbeddingSpace_jobId_key" ON "EmbeddingSpace"("jobId");
-- At most one active space per base model (Prisma cannot express a partial unique index).
CREATE UNIQUE INDEX "EmbeddingSpace_one_active_per_base" ON "EmbeddingSpace"("baseModelId") WHERE "status" = 'active';

-- AddForeignKey
ALTER TABLE "EmbeddingSpace" ADD CONSTRAINT "EmbeddingSpace_baseModelId_fkey" FOREIGN KEY ("baseModelId") REFERENCES "BaseModel"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "EmbeddingSpace" ADD CONSTRAINT "EmbeddingSpace_artifactId_fkey" FOREIGN KEY ("artifactId") REFERENCES "Artifact"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
