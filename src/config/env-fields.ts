import { z } from 'zod';

/** Building blocks of the configuration schema (config.ts, push-config.ts): how one variable is read. */

/** An empty variable counts as unset, so `FOO=` falls back to the default instead of failing. */
export const emptyAsUndefined = (v: unknown): unknown => (v === '' ? undefined : v);

export const optionalString = z.preprocess(emptyAsUndefined, z.string().optional());

export const int = (def: number, min: number, max: number) => z.preprocess(emptyAsUndefined, z.coerce.number().int().min(min).max(max).default(def));

/** A comma-separated list, each entry trimmed, empty entries dropped. Wrap it in `z.preprocess(emptyAsUndefined, ...)`. */
export const commaList = z.string().transform((v) =>
  v
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0),
);

/** A commaList that `check` accepts; what `check` throws becomes the variable's error. */
export const checkedList = (check: (list: string[]) => unknown) =>
  commaList.superRefine((list, ctx) => {
    try {
      check(list);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
