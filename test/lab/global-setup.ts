// Vitest globalSetup: starts the real-server lab once per run and hands its data to tests
// (inject('lab'), or requireLab() from ./use-lab.js).
import type { TestProject } from 'vitest/node';
import { INSTALL_HINT, labPrerequisites, startLab, type LabInfo } from '../../lab/lab.js';

export type { LabInfo };

declare module 'vitest' {
  export interface ProvidedContext {
    /** null when the lab's prerequisites are missing outside CI. */
    lab: LabInfo | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { ok, missing } = labPrerequisites();
  if (!ok) {
    const message = `real-server lab unavailable, missing: ${missing.join(', ')} (${INSTALL_HINT})`;
    if (process.env.CI === 'true') throw new Error(message);
    console.warn(`[lab] ${message}; lab tests will be skipped or fail`);
    project.provide('lab', null);
    return async () => undefined;
  }
  const { stop, ...info } = await startLab();
  project.provide('lab', info);
  return stop;
}
