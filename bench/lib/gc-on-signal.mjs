/**
 * Loaded into every server under test (node --expose-gc --import): SIGUSR2
 * runs a full garbage collection. The connect storm uses it before reading
 * a server's memory, so that the reading holds what the connections keep
 * and not the garbage their handshakes left, whose amount depends on when
 * the collector last ran. Plain JavaScript, so that the relay's bundle runs
 * without the TypeScript loader, as `npm start` runs it.
 */
const gc = /** @type {{ gc?: () => void }} */ (globalThis).gc;
if (gc) process.on('SIGUSR2', () => gc());
