// Debian's Chromium driven by playwright-core, for tests that look at a page as a person does.
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, BrowserContextOptions, LaunchOptions, Page } from 'playwright-core';

/**
 * Headless, and quiet: no background requests of its own that could be taken for the page's. Chromium
 * runs without libfaketime (.ci/run moves the unit tests' clock with it, and Chromium's processes then
 * stall): the page reads no clock, everything it shows was computed when the report was written.
 */
export const CHROMIUM: LaunchOptions = {
  executablePath: '/usr/bin/chromium',
  env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'LD_PRELOAD' && !k.startsWith('FAKETIME'))) as Record<
    string,
    string
  >,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};

export interface Opened {
  context: BrowserContext;
  page: Page;
  /** Every request the page made (the file itself is the first). */
  requests: string[];
  /** Requests for anything but the file: aborted. */
  blocked: string[];
  /** Console errors (a Content-Security-Policy violation is one) and uncaught page errors. */
  problems: string[];
}

/** Opens an HTML file in a fresh context in which any request other than the file itself is aborted and counted. */
export async function openReport(browser: Browser, file: string, options: BrowserContextOptions = {}): Promise<Opened> {
  const url = pathToFileURL(file).href;
  const context = await browser.newContext(options);
  const opened: Opened = { context, page: await context.newPage(), requests: [], blocked: [], problems: [] };
  await context.route('**', (route) => {
    if (route.request().url() === url) return route.continue();
    opened.blocked.push(route.request().url());
    return route.abort();
  });
  opened.page.on('request', (r) => void opened.requests.push(r.url()));
  opened.page.on('console', (m) => void (m.type() === 'error' && opened.problems.push(m.text())));
  opened.page.on('pageerror', (e) => void opened.problems.push(e.message));
  await opened.page.goto(url, { waitUntil: 'load' });
  return opened;
}

/** The computed background colour of the first element the selector finds, as rgb(r, g, b). */
export async function backgroundOf(page: Page, selector: string): Promise<string> {
  return (await page.evaluate(
    `getComputedStyle(document.querySelector(${JSON.stringify(`section${selector}`)})).backgroundColor`,
  )) as string;
}
