import type { Compilable, CompiledQuery, Kysely, QueryResult, Transaction } from 'kysely';
import { engineOf, type Engine } from './dialects.js';
import type { DB } from './schema.js';

/** Stands in for the n-th argument while the query is built; never sent to a database. */
const MARKER = '\u0000kkchat-argument-';

interface Template {
  compiled: CompiledQuery;
  /** For each parameter of the compiled query: the argument it takes, or null for a constant of the query. */
  slots: (number | null)[];
}

/**
 * A query built and compiled once per database engine, then run with new values. Kysely otherwise builds the query
 * tree, freezes it and compiles it to SQL on every call, which a profile of the send path put at about a seventh
 * of the server's CPU; the few statements run for every message are written with this instead.
 *
 * `build` gets one stand-in per argument and must use each only as a plain value (a comparison, a value to set or
 * insert), never in an expression Kysely computes with at build time; constants of the query (`+ 1`) stay as
 * written. Building refuses a query that does not use every argument.
 */
export function preparedQuery<Args extends unknown[], Row = unknown>(
  build: (db: Kysely<DB>, ...args: Args) => Compilable<Row>,
): (db: Kysely<DB> | Transaction<DB>, ...args: Args) => Promise<QueryResult<Row>> {
  const templates = new Map<Engine, Template>();
  const templateFor = (db: Kysely<DB>, arity: number): Template => {
    const engine = engineOf(db);
    let template = templates.get(engine);
    if (!template) {
      const markers = Array.from({ length: arity }, (_, i) => `${MARKER}${i}`) as Args;
      const compiled = build(db, ...markers).compile();
      const slots = compiled.parameters.map((p) => (typeof p === 'string' && p.startsWith(MARKER) ? Number(p.slice(MARKER.length)) : null));
      for (let i = 0; i < arity; i++) {
        if (!slots.includes(i)) throw new Error(`preparedQuery: argument ${i} is not a parameter of: ${compiled.sql}`);
      }
      template = { compiled, slots };
      templates.set(engine, template);
    }
    return template;
  };
  return (db, ...args) => {
    let template: Template;
    try {
      template = templateFor(db, args.length);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const { compiled, slots } = template;
    const parameters = slots.map((slot, i) => (slot === null ? compiled.parameters[i] : args[slot]));
    return db.executeQuery<Row>({ ...compiled, parameters } as CompiledQuery<Row>);
  };
}
