/**
 * A stand-in for registry-api's future internal result route, implementing its contract:
 * one registration per Idempotency-Key (201 first, 200 with the same body on repeats).
 */
import { createServer, type Server } from 'node:http';

export interface Submission {
  readonly idempotencyKey: string;
  readonly authorization: string;
  readonly path: string;
  readonly body: { jobId: string; kind: string; result: unknown };
}

export interface RegistryStub {
  readonly url: string;
  /** Every POST received, repeats included. */
  readonly posts: Submission[];
  /** Registered results by idempotency key. */
  readonly registered: Map<string, Submission>;
  close(): Promise<void>;
}

export async function startRegistryStub(): Promise<RegistryStub> {
  const posts: Submission[] = [];
  const registered = new Map<string, Submission>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const submission: Submission = {
        idempotencyKey: String(req.headers['idempotency-key'] ?? ''),
        authorization: String(req.headers.authorization ?? ''),
        path: req.url ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Submission['body'],
      };
      posts.push(submission);
      const first = !registered.has(submission.idempotencyKey);
      if (first) registered.set(submission.idempotencyKey, submission);
      res.writeHead(first ? 201 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jobId: submission.body.jobId }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    posts,
    registered,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
