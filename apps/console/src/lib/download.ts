/**
 * Hands a blob to the browser as a file download. Registry file routes need the API key header,
 * so a plain <a href> cannot fetch them: the page fetches, then saves the bytes this way.
 */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  // The click starts the download asynchronously: revoke later, not now.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
