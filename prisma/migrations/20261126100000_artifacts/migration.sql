-- artifacts: routers, retrievers and discriminators — named, versioned, immutable directories of a
-- JSON manifest + tensors, their files content-addressed in the blob store (BlobRef owner 'artifact').

-- CreateTable
CREATE TABLE "Artifact" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "kind" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "format" TEXT NOT NULL,
    "baseModelId" TEXT,
    "adapterVersionId" TEXT,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "jobId" TEXT,
    "description" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deletedAt" TIMESTAMP(3),

    CONSTRAINT "Artifact_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ArtifactFile" (
    "id" TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    "artifactId" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "size" BIGINT NOT NULL,

    CONSTRAINT "ArtifactFile_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Artifact_jobId_key" ON "Artifact"("jobId");
CREATE UNIQUE INDEX "Artifact_kind_name_version_key" ON "Artifact"("kind", "name", "version");
CREATE INDEX "Artifact_createdAt_idx" ON "Artifact"("createdAt");
CREATE INDEX "Artifact_baseModelId_idx" ON "Artifact"("baseModelId");
CREATE INDEX "Artifact_adapterVersionId_idx" ON "Artifact"("adapterVersionId");
CREATE UNIQUE INDEX "ArtifactFile_artifactId_path_key" ON "ArtifactFile"("artifactId", "path");
CREATE INDEX "ArtifactFile_sha256_idx" ON "ArtifactFile"("sha256");

-- AddForeignKey
ALTER TABLE "Artifact" ADD CONSTRAINT "Artifact_baseModelId_fkey" FOREIGN KEY ("baseModelId") REFERENCES "BaseModel"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "Artifact" ADD CONSTRAINT "Artifact_adapterVersionId_fkey" FOREIGN KEY ("adapterVersionId") REFERENCES "AdapterVersion"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "ArtifactFile" ADD CONSTRAINT "ArtifactFile_artifactId_fkey" FOREIGN KEY ("artifactId") REFERENCES "Artifact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- An artifact row can go without ArtifactService seeing it: a discriminator cascades away with its
-- adapter version when the adapter is purged. Its BlobRefs must go with it, or its blobs would be
-- kept forever by the garbage collector; this trigger drops them whatever deleted the row.
CREATE FUNCTION "artifact_drop_blob_refs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "BlobRef" WHERE "ownerType" = 'artifact' AND "ownerId" = OLD."id";
  RETURN OLD;
END
$$;
CREATE TRIGGER "Artifact_drop_blob_refs" AFTER DELETE ON "Artifact" FOR EACH ROW EXECUTE FUNCTION "artifact_drop_blob_refs"();
