/**
 * The registry's racy steps call pauseAt(step): lock.acquired, lock.save, lock.release and
 * lock.takeover (the registry file's lock), shared.claim (SharedKeyRegistry, holding its lock word
 * between a name and its header bits). In the package it does nothing. The tests that widen those
 * races run a copy of the package whose pauses.js sleeps at the steps their environment names
 * (test/registry/paused.ts): test hooks stay out of what is published.
 */
export function pauseAt(_step: string): void {}
