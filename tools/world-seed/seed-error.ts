/** A seeding failure with a message meant for the person running it (no stack needed). */
export class SeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedError';
  }
}
