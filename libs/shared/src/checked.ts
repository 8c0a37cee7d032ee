/**
 * An expected failure as a value, at the boundaries where one is part of the contract (a
 * secret that does not exist, a cloud upload with no account): the problem in words, ready
 * for a verdict. Unexpected failures (an API unreachable) stay exceptions, so jobs retry.
 */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

export const accepted = <T>(value: T): Checked<T> => ({ ok: true, value });
export const refused = <T = never>(problem: string): Checked<T> => ({ ok: false, problem });
