/**
 * Loaded into every server under test (node --expose-gc --import): SIGUSR2
 * runs a full garbage collection. The connect storm uses it before reading
 * a server's memory, so that the reading holds what the connections keep
 * and not the garbage their handshakes left, whose amount depends on when
 * the collector last ran.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) process.on('SIGUSR2', () => gc());
