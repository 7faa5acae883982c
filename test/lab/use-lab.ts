// For tests: the lab started by ./global-setup.ts.
import { inject } from 'vitest';
import type { LabInfo } from './global-setup.js';

/** True when the lab is running (false only outside CI with prerequisites missing). */
export function hasLab(): boolean {
  return inject('lab') !== null;
}

/** The running lab; throws when its prerequisites were missing (see .ci/install-lab.sh). */
export function requireLab(): LabInfo {
  const lab = inject('lab');
  if (lab === null) {
    throw new Error('the real-server lab is not running: its prerequisites are missing (install them with .ci/install-lab.sh, as root)');
  }
  return lab;
}
