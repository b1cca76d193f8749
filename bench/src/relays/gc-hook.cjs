// Preloaded into every server the benchmark starts (`node --expose-gc --require gc-hook.cjs ...`): SIGUSR2 runs
// a full garbage collection, so that RSS read from /proc afterwards reflects live memory. It changes nothing else.
if (typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    globalThis.gc();
    globalThis.gc();
  });
}
