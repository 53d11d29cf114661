/** What a Hugging Face model card for one adapter version is made from. */
export interface ModelCardInput {
  readonly adapterName: string;
  readonly version: number;
  /** The base model's registered name; becomes `base_model` in the front matter. */
  readonly baseModel: string;
  readonly tags: readonly string[];
  readonly description: string;
  readonly rank: number;
  readonly targetModules: readonly string[];
  /** Free text the uploader attached as the card body (README.md in a bundle); appended after the description. */
  readonly body?: string | null;
  readonly parent?: string | null;
}

/**
 * YAML scalars are written as JSON strings: a JSON double-quoted string is a valid YAML double-quoted
 * scalar, so names with ':' or '#' or leading dashes cannot break the front matter.
 */
function yamlString(value: string): string {
  return JSON.stringify(value);
}

/**
 * Renders README.md with Hugging Face YAML front matter (`base_model`, `library_name: peft`, `tags`)
 * followed by the description and the adapter's facts, as the Hub expects for PEFT adapters.
 */
export function renderModelCard(input: ModelCardInput): string {
  const tags = [...new Set(['peft', 'lora', ...input.tags])];
  const front = [
    '---',
    `base_model: ${yamlString(input.baseModel)}`,
    'library_name: peft',
    'tags:',
    ...tags.map((t) => `- ${yamlString(t)}`),
    '---',
  ];
  const description = input.description.trim();
  const lines = [
    ...front,
    '',
    `# ${input.adapterName} (v${input.version})`,
    '',
    description.length > 0 ? description : '_No description provided._',
    '',
    '## Adapter',
    '',
    `- Base model: \`${input.baseModel}\``,
    `- Rank: ${input.rank}`,
    `- Target modules: ${input.targetModules.map((m) => `\`${m}\``).join(', ') || '(none)'}`,
  ];
  if (input.parent) lines.push(`- Parent: \`${input.parent}\``);
  const body = input.body?.trim();
  if (body) lines.push('', stripFrontMatter(body));
  return `${lines.join('\n')}\n`;
}

/** An uploaded README.md may carry its own front matter; ours replaces it so there is exactly one block. */
export function stripFrontMatter(markdown: string): string {
  const m = /^---\r?\n[\s\S]*?\r?\n---\r?\n?/.exec(markdown);
  return (m ? markdown.slice(m[0].length) : markdown).trim();
}
