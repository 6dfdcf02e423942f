/** Distinct model label values a process exports before the rest become `other`. */
export const MAX_MODEL_LABELS = 200;
/** Longest model name used as a label value, in UTF-16 units. */
const MAX_LABEL_LENGTH = 128;

/**
 * The `model` label of the token metrics (docs/behaviour.md#label-values): the first 200 distinct
 * values a process sees are used as they are, later ones are reported as `other`, so an
 * upstream (or a client through it) inventing model names cannot grow the series
 * without bound.
 */
export class ModelLabels {
  readonly #seen = new Set<string>();
  readonly #max: number;

  constructor(max = MAX_MODEL_LABELS) {
    this.#max = max;
  }

  /** The label value for `model` (`unknown` when there is none). */
  label(model: string | undefined): string {
    if (model === undefined || model === "") return "unknown";
    const m = model.length > MAX_LABEL_LENGTH ? model.slice(0, MAX_LABEL_LENGTH) : model;
    if (this.#seen.has(m)) return m;
    if (this.#seen.size >= this.#max) return "other";
    this.#seen.add(m);
    return m;
  }
}
