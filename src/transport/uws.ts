import { createRequire } from 'node:module';

export type Uws = typeof import('uWebSockets.js');

/**
 * Loads uWebSockets.js and insists on its native binding. The build in use
 * quietly swaps in a slow pure-JS imitation when the binary does not load
 * (wrong ABI, missing glibc symbol, UWS_USE_FALLBACK set); a relay running
 * on that would pass a smoke test and collapse under load, so it refuses to
 * start instead.
 */
export function loadNativeUws(load: (id: string) => unknown = createRequire(import.meta.url)): Uws {
  const mod = load('uWebSockets.js');
  if (!isNativeUws(mod)) {
    throw new Error(
      'uWebSockets.js native binding did not load (the package fell back to its JavaScript implementation). ' +
        `This relay needs the native build for Node ${process.versions.node} (ABI ${process.versions.modules}, ${process.platform}-${process.arch}); ` +
        'unset UWS_USE_FALLBACK and check that the binary matches this platform.',
    );
  }
  return mod;
}

/** The native module exports the C++ helpers and compressor constants; the fallback has neither. */
export function isNativeUws(mod: unknown): mod is Uws {
  if (typeof mod !== 'object' || mod === null) return false;
  const m = mod as Record<string, unknown>;
  return typeof m['App'] === 'function' && typeof m['getParts'] === 'function' && typeof m['SHARED_COMPRESSOR'] === 'number';
}
