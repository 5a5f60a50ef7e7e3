import { readFileSync } from 'node:fs';

/** The fenced code blocks of one language in a Markdown file, in order. */
export function codeBlocks(file: string, language: string): string[] {
  const markdown = readFileSync(file, 'utf8');
  return [...markdown.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map(
    (match) => match[1],
  );
}

/**
 * The rows of the first table under a `## heading` of a Markdown file, each row its cells
 * (trimmed), the header and separator rows left out.
 */
export function tableUnder(file: string, heading: string): string[][] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.indexOf(`## ${heading}`);
  if (start < 0) throw new Error(`no '## ${heading}' in ${file}`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) break;
    if (!line.startsWith('|')) {
      if (rows.length > 0) break;
      continue;
    }
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
  }
  return rows.slice(2);
}

/** The `code` spans of a Markdown text, in order. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1]);
}
