/**
 * Server metrics in the Prometheus text exposition format (version 0.0.4): requests by route and status, tokens
 * in and out, queue depth, batch size, time to first token and time per output token.
 */

/** A histogram with fixed upper bounds (seconds or counts). */
class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]) this.counts[i]++;
  }
  lines(name: string): string[] {
    const out = this.bounds.map((b, i) => `${name}_bucket{le="${b}"} ${this.counts[i]}`);
    out.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${this.sum}`, `${name}_count ${this.count}`);
    return out;
  }
}

const LATENCY = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH = [1, 2, 4, 8, 16, 32, 64, 128];

/** Counters and histograms of one server (all models). */
export class Metrics {
  #requests = new Map<string, number>();
  promptTokens = 0;
  completionTokens = 0;
  readonly ttft = new Histogram(LATENCY);
  readonly perToken = new Histogram(LATENCY);
  readonly batchSize = new Histogram(BATCH);
  /** Current queue depth and running rows, read when scraped. */
  gauges: () => { queued: number; running: number } = () => ({ queued: 0, running: 0 });

  /** Counts a finished request. */
  request(route: string, status: number): void {
    const key = `route="${route}",status="${status}"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
  }

  /** The exposition text. */
  render(): string {
    const g = this.gauges();
    const lines: string[] = [
      '# HELP autocontrast_requests_total HTTP requests answered, by route and status.',
      '# TYPE autocontrast_requests_total counter',
      ...[...this.#requests].map(([k, v]) => `autocontrast_requests_total{${k}} ${v}`),
      '# HELP autocontrast_prompt_tokens_total Prompt tokens processed.',
      '# TYPE autocontrast_prompt_tokens_total counter',
      `autocontrast_prompt_tokens_total ${this.promptTokens}`,
      '# HELP autocontrast_completion_tokens_total Tokens generated.',
      '# TYPE autocontrast_completion_tokens_total counter',
      `autocontrast_completion_tokens_total ${this.completionTokens}`,
      '# HELP autocontrast_queue_depth Requests waiting for a batch slot.',
      '# TYPE autocontrast_queue_depth gauge',
      `autocontrast_queue_depth ${g.queued}`,
      '# HELP autocontrast_running_sequences Sequences decoding now.',
      '# TYPE autocontrast_running_sequences gauge',
      `autocontrast_running_sequences ${g.running}`,
      '# HELP autocontrast_batch_size Rows per decode step.',
      '# TYPE autocontrast_batch_size histogram',
      ...this.batchSize.lines('autocontrast_batch_size'),
      '# HELP autocontrast_time_to_first_token_seconds From request arrival to its first generated token.',
      '# TYPE autocontrast_time_to_first_token_seconds histogram',
      ...this.ttft.lines('autocontrast_time_to_first_token_seconds'),
      '# HELP autocontrast_time_per_output_token_seconds Between consecutive generated tokens of a sequence.',
      '# TYPE autocontrast_time_per_output_token_seconds histogram',
      ...this.perToken.lines('autocontrast_time_per_output_token_seconds'),
    ];
    return lines.join('\n') + '\n';
  }
}
