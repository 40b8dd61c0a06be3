/**
 * The error a predicate that cannot be used raises.
 *
 * @module
 */

/** Thrown for a predicate that is not a single valid boolean expression. */
export class PredicateError extends Error {
  /** Creates the error; `message` says what is wrong and where. */
  constructor(message: string) {
    super(message);
    this.name = "PredicateError";
  }
}
