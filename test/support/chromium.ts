/**
 * Debian's Chromium (`/usr/bin/chromium`, installed by scripts/ensure-chromium.sh), headless,
 * driven by playwright-core, which never downloads a browser of its own. Each launch gets a
 * fresh, empty profile, removed on close; the flags keep it off the network and quiet.
 * playwright-core speaks CDP to it: 1.65 is built against Chromium 159 and drives Debian
 * bookworm's 156 (launch, pages, evaluate, console messages), which is all the tests use.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox', // root, in a container
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Chromium {
  context: BrowserContext;
  version: string;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run \`bash scripts/ensure-chromium.sh\` as root (installs Debian's chromium)`,
    );
  }
  const profile = mkdtempSync(path.join(tmpdir(), 'chromium-profile-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
    });
    return {
      context,
      version: context.browser()?.version() ?? 'unknown',
      close: async () => {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
}
