import { readFileSync } from 'node:fs';

/** The fenced code blocks of one language in a Markdown file, in order. */
export function codeBlocks(file: string, language: string): string[] {
  const markdown = readFileSync(file, 'utf8');
  return [...markdown.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map(
    (match) => match[1],
  );
}
