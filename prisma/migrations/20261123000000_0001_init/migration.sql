-- 0001_init: the whole registry schema. Append-only: later changes go in new migration folders.

-- CreateExtension
CREATE EXTENSION IF NOT EXISTS "vector";

-- CreateEnum
CREATE TYPE "ApiKeyRole" AS ENUM ('reader', 'writer', 'admin', 'service');

-- CreateEnum
CREATE TYPE "LineageKind" AS ENUM ('parent', 'base_model', 'job', 'dataset', 'transferred_from');

-- CreateEnum
CREATE TYPE "EmbeddingKind" AS ENUM ('weight', 'text');

-- CreateEnum
CREATE TYPE "JobStatus" AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');

-- CreateTable
CREATE TABLE "BaseModel" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "name" TEXT NOT NULL,
    "family" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "summary" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deletedAt" TIMESTAMP(3),

    CONSTRAINT "BaseModel_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BaseModelFile" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "baseModelId" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "blobSha256" TEXT NOT NULL,
    "size" BIGINT NOT NULL,

    CONSTRAINT "BaseModelFile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
-- searchVector is a generated column (name weighted above description; '_', '-', '.', '/' split words).
CREATE TABLE "Adapter" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "name" TEXT NOT NULL,
    "baseModelId" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),
    "searchVector" tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, regexp_replace("name", '[-_./]+', ' ', 'g')), 'A') ||
        setweight(to_tsvector('english'::regconfig, coalesce("description", '')), 'B')
    ) STORED,

    CONSTRAINT "Adapter_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AdapterVersion" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "adapterId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "configSha256" TEXT NOT NULL,
    "weightsSha256" TEXT NOT NULL,
    "contentDigest" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "rank" INTEGER NOT NULL,
    "targetModules" TEXT[],
    "sizeBytes" BIGINT NOT NULL,
    "card" TEXT NOT NULL DEFAULT '',
    "metrics" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AdapterVersion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AdapterAlias" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "adapterId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "versionId" TEXT NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AdapterAlias_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Tag" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "name" TEXT NOT NULL,

    CONSTRAINT "Tag_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AdapterTag" (
    "adapterId" TEXT NOT NULL,
    "tagId" TEXT NOT NULL,

    CONSTRAINT "AdapterTag_pkey" PRIMARY KEY ("adapterId","tagId")
);

-- CreateTable
CREATE TABLE "LineageEdge" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "childVersionId" TEXT NOT NULL,
    "kind" "LineageKind" NOT NULL,
    "parentVersionId" TEXT,
    "ref" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "LineageEdge_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Embedding" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "adapterVersionId" TEXT NOT NULL,
    "kind" "EmbeddingKind" NOT NULL,
    "space" TEXT NOT NULL,
    "vector" vector(256) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Embedding_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Dataset" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "sha256" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "rows" INTEGER NOT NULL,
    "sizeBytes" BIGINT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Dataset_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Job" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "kind" TEXT NOT NULL,
    "status" "JobStatus" NOT NULL DEFAULT 'queued',
    "payload" JSONB NOT NULL,
    "progress" JSONB NOT NULL DEFAULT '{}',
    "result" JSONB,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Job_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BlobRef" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "sha256" TEXT NOT NULL,
    "ownerType" TEXT NOT NULL,
    "ownerId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BlobRef_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "publicId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "role" "ApiKeyRole" NOT NULL,
    "secretHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMP(3),
    "lastUsedAt" TIMESTAMP(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditLog" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actorKeyId" TEXT,
    "action" TEXT NOT NULL,
    "entityType" TEXT NOT NULL,
    "entityId" TEXT NOT NULL,
    "details" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "AuditLog_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "BaseModel_name_key" ON "BaseModel"("name");

-- CreateIndex
CREATE INDEX "BaseModelFile_blobSha256_idx" ON "BaseModelFile"("blobSha256");

-- CreateIndex
CREATE UNIQUE INDEX "BaseModelFile_baseModelId_path_key" ON "BaseModelFile"("baseModelId", "path");

-- CreateIndex
CREATE UNIQUE INDEX "Adapter_name_key" ON "Adapter"("name");

-- CreateIndex
CREATE INDEX "Adapter_baseModelId_idx" ON "Adapter"("baseModelId");

-- CreateIndex
CREATE INDEX "Adapter_searchVector_idx" ON "Adapter" USING GIN ("searchVector");

-- CreateIndex
CREATE INDEX "AdapterVersion_contentDigest_idx" ON "AdapterVersion"("contentDigest");

-- CreateIndex
CREATE UNIQUE INDEX "AdapterVersion_adapterId_version_key" ON "AdapterVersion"("adapterId", "version");

-- CreateIndex
CREATE UNIQUE INDEX "AdapterVersion_adapterId_contentDigest_key" ON "AdapterVersion"("adapterId", "contentDigest");

-- CreateIndex
CREATE UNIQUE INDEX "AdapterAlias_adapterId_name_key" ON "AdapterAlias"("adapterId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "Tag_name_key" ON "Tag"("name");

-- CreateIndex
CREATE INDEX "AdapterTag_tagId_idx" ON "AdapterTag"("tagId");

-- CreateIndex
CREATE INDEX "LineageEdge_childVersionId_idx" ON "LineageEdge"("childVersionId");

-- CreateIndex
CREATE INDEX "LineageEdge_parentVersionId_idx" ON "LineageEdge"("parentVersionId");

-- CreateIndex
CREATE INDEX "Embedding_kind_space_idx" ON "Embedding"("kind", "space");

-- CreateIndex
CREATE UNIQUE INDEX "Embedding_adapterVersionId_kind_space_key" ON "Embedding"("adapterVersionId", "kind", "space");

-- CreateIndex (not expressible in schema.prisma): approximate nearest neighbours by cosine distance.
CREATE INDEX "Embedding_vector_hnsw_idx" ON "Embedding" USING hnsw ("vector" vector_cosine_ops);

-- CreateIndex
CREATE INDEX "Dataset_sha256_idx" ON "Dataset"("sha256");

-- CreateIndex
CREATE INDEX "Job_status_kind_idx" ON "Job"("status", "kind");

-- CreateIndex
CREATE INDEX "BlobRef_ownerType_ownerId_idx" ON "BlobRef"("ownerType", "ownerId");

-- CreateIndex
CREATE UNIQUE INDEX "BlobRef_sha256_ownerType_ownerId_key" ON "BlobRef"("sha256", "ownerType", "ownerId");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_publicId_key" ON "ApiKey"("publicId");

-- CreateIndex
CREATE INDEX "AuditLog_entityType_entityId_idx" ON "AuditLog"("entityType", "entityId");

-- CreateIndex
CREATE INDEX "AuditLog_at_idx" ON "AuditLog"("at");

-- AddForeignKey
ALTER TABLE "BaseModelFile" ADD CONSTRAINT "BaseModelFile_baseModelId_fkey" FOREIGN KEY ("baseModelId") REFERENCES "BaseModel"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Adapter" ADD CONSTRAINT "Adapter_baseModelId_fkey" FOREIGN KEY ("baseModelId") REFERENCES "BaseModel"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AdapterVersion" ADD CONSTRAINT "AdapterVersion_adapterId_fkey" FOREIGN KEY ("adapterId") REFERENCES "Adapter"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AdapterAlias" ADD CONSTRAINT "AdapterAlias_adapterId_fkey" FOREIGN KEY ("adapterId") REFERENCES "Adapter"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AdapterAlias" ADD CONSTRAINT "AdapterAlias_versionId_fkey" FOREIGN KEY ("versionId") REFERENCES "AdapterVersion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AdapterTag" ADD CONSTRAINT "AdapterTag_adapterId_fkey" FOREIGN KEY ("adapterId") REFERENCES "Adapter"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AdapterTag" ADD CONSTRAINT "AdapterTag_tagId_fkey" FOREIGN KEY ("tagId") REFERENCES "Tag"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LineageEdge" ADD CONSTRAINT "LineageEdge_childVersionId_fkey" FOREIGN KEY ("childVersionId") REFERENCES "AdapterVersion"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LineageEdge" ADD CONSTRAINT "LineageEdge_parentVersionId_fkey" FOREIGN KEY ("parentVersionId") REFERENCES "AdapterVersion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Embedding" ADD CONSTRAINT "Embedding_adapterVersionId_fkey" FOREIGN KEY ("adapterVersionId") REFERENCES "AdapterVersion"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AuditLog" ADD CONSTRAINT "AuditLog_actorKeyId_fkey" FOREIGN KEY ("actorKeyId") REFERENCES "ApiKey"("id") ON DELETE SET NULL ON UPDATE CASCADE;
