/** `set-url`: saves (or clears) the default relay in the store, for a human at a terminal. */
import type { SessionManager } from '../core/index.js';

export interface SetUrlReport {
  savedUrl: string | null;
  defaultServer: string;
}

export function setDefaultUrl(manager: SessionManager, url: string | undefined): SetUrlReport {
  manager.registry.setSavedServer(url);
  return {
    savedUrl: manager.registry.savedServer() ?? null,
    defaultServer: manager.defaultServer(),
  };
}
