import type { TextTokenizer } from '../../src/train/data';

/**
 * A character tokenizer for tests: id 0 = pad, 1 = BOS, 2 = EOS, then one id per alphabet character.
 * Small vocabularies keep the test models tiny.
 */
export class CharTokenizer implements TextTokenizer {
  readonly bosTokenId = 1;
  readonly eosTokenId = 2;
  private readonly ids: Map<string, number>;

  constructor(readonly alphabet: string) {
    this.ids = new Map([...alphabet].map((c, i) => [c, i + 3]));
  }

  get vocabSize(): number {
    return this.alphabet.length + 3;
  }

  encode(text: string): number[] {
    return [...text].map((c) => {
      const id = this.ids.get(c);
      if (id === undefined) throw new Error(`CharTokenizer: '${c}' is not in the alphabet`);
      return id;
    });
  }

  decode(ids: readonly number[]): string {
    return ids.filter((id) => id >= 3).map((id) => this.alphabet[id - 3]).join('');
  }
}
