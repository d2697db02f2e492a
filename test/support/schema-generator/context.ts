/**
 * What every part of the generator shares for one seed: its draws, the script so far, the
 * features it covers and the comments to add at the end. The parts draw in a fixed order (the
 * order generateSchema calls them), so the same seed and major give the same script.
 */
import fc from 'fast-check';
import { Draw } from './draw.js';
import { ql } from './quote.js';

export interface Gen {
  readonly seed: number;
  readonly major: number;
  readonly d: Draw;
  /** The script, one statement each. */
  readonly sql: string[];
  readonly features: string[];
  /** COMMENT ON statements, added after everything else. */
  readonly comments: string[];
  feature(f: string): void;
  /** Draws whatever the server, then gates on its major (a feature it lacks is left out). */
  since(min: number, p: number): boolean;
  comment(what: string, text: string): void;
  /** A comment's text (numbered, sometimes with quotes in it). */
  note(kind: string): string;
}

export function startGeneration(seed: number, major: number): Gen {
  const [gen] = fc.sample(fc.gen(), { seed, numRuns: 1 });
  if (gen === undefined) throw new Error('fast-check gave no generator');
  const d = new Draw(gen);
  const features: string[] = [];
  const sql: string[] = [];
  const comments: string[] = [];
  let commentNo = 0;
  return {
    seed,
    major,
    d,
    sql,
    features,
    comments,
    feature: (f) => {
      features.push(f);
    },
    since: (min, p) => d.chance(p) && major >= min,
    comment: (what, text) => {
      comments.push(`COMMENT ON ${what} IS ${ql(text)};`);
    },
    note: (kind) => `${kind} #${++commentNo} of seed ${seed}${d.chance(0.3) ? ", it's \"quoted\"" : ''}`,
  };
}
