/** `set-url`: saves (or clears) the default relay in the store, for a human at a terminal. */
import { type Core, checkedUrl } from '../core/index.js';

export interface SetUrlReport {
  savedUrl: string | null;
  defaultServer: string;
}

export function setDefaultUrl(core: Core, url: string | undefined): SetUrlReport {
  core.store.setDefaultServer(url === undefined ? undefined : checkedUrl(url, 'URL'));
  return {
    savedUrl: core.store.read().defaultServer ?? null,
    defaultServer: core.manager.defaultServer(),
  };
}
