import { isPattern, topicMatches } from '../../protocol/topics.js';

/** Topics one reader reads at once, at most: each is a session of its own. */
export const SUBSCRIBED_TOPICS_MAX = 64;

/** Topics to start reading. */
export interface TopicsToRead {
  topics: string[];
  /** Created after the reader started: read from their first message, whatever `--from` said. */
  fromStart: boolean;
  /** Matched, but past the bound: not read (each told once). */
  over: string[];
}

/**
 * Which topics a reader of several reads (`--topic logs.web,logs.db`, or a pattern: `logs.>`). Named
 * topics are read from the start; a pattern's are those of the server's list it matches, at first and
 * then as later lists show topics created since (those are read from their first message, so that
 * nothing written before the list showed them is missed).
 */
export class TopicSubscription {
  private readonly reading = new Set<string>();
  private readonly told = new Set<string>();
  private readonly patterns: string[];
  private listed = false;

  constructor(
    readonly entries: readonly string[],
    private readonly max = SUBSCRIBED_TOPICS_MAX,
  ) {
    this.patterns = entries.filter(isPattern);
  }

  /** Some entry is a pattern: the server's topics are to be listed, and watched. */
  get watching(): boolean {
    return this.patterns.length > 0;
  }

  /** The topics named as such, read at once. */
  named(): TopicsToRead {
    return this.take(
      this.entries.filter((e) => !isPattern(e)),
      false,
    );
  }

  /** The server's topics as now listed: those newly matched by a pattern. */
  offer(listed: readonly string[]): TopicsToRead {
    const fromStart = this.listed;
    this.listed = true;
    return this.take(
      listed.filter((t) => this.patterns.some((p) => topicMatches(p, t))),
      fromStart,
    );
  }

  /** The topics read now. */
  get topics(): string[] {
    return [...this.reading];
  }

  private take(candidates: readonly string[], fromStart: boolean): TopicsToRead {
    const out: TopicsToRead = { topics: [], fromStart, over: [] };
    for (const t of candidates) {
      if (this.reading.has(t)) continue;
      if (this.reading.size < this.max) {
        this.reading.add(t);
        out.topics.push(t);
      } else if (!this.told.has(t)) {
        this.told.add(t);
        out.over.push(t);
      }
    }
    return out;
  }
}
