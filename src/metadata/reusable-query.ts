// Point lookups on the pull path (manifest by tag or digest, blob link) compiled once. Kysely
// builds and compiles a query anew on every call, which cost more than running it on SQLite
// (bench profile of manifest GET: about 9% of the registry's CPU in query building).
import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Wrap `build`, whose SQL must not depend on its arguments, which must be its parameters in
 * order and its only ones (checked on the first call). Each call runs the compiled SQL with the
 * new arguments on `db()` (read at call time, so a store bound to a transaction uses it).
 */
export function reusableQuery<A extends unknown[], R>(db: () => Kysely<Database>, build: (...args: A) => Compilable<R>): (...args: A) => Promise<R[]> {
  let compiled: CompiledQuery<R> | undefined;
  return async (...args: A) => {
    if (compiled === undefined) {
      const first = build(...args).compile();
      if (first.parameters.length !== args.length || first.parameters.some((p, i) => p !== args[i])) {
        throw new Error(`reusableQuery: the parameters of ${first.sql} are not exactly its arguments`);
      }
      compiled = first;
    }
    return (await db().executeQuery<R>({ ...compiled, parameters: args })).rows;
  };
}
