/**
 * `autocontrast report [--results DIR] [--out DIR]`: the markdown report and SVG plots of the results that
 * `autocontrast eval` wrote.
 */
import { writeReport } from '../../eval/report';
import { optionValue, parseArgs } from '../args';
import { UsageError } from '../usage-error';

/** Help text of `report`. */
export const REPORT_HELP = `Usage: autocontrast report [options]

Writes report.md (tables shaped like the paper's Tables 1, 4, 5 and 6) and SVG plots (metric per exit layer,
shaped like its Figures 2-4) from the results of "autocontrast eval".

Options:
  --results DIR   folder with the eval results (default eval-results)
  --out DIR       where to write the report (default: the results folder)
  --note TEXT     a paragraph to append (repeatable only as one text)
  -h, --help      this help`;

/** Runs `autocontrast report`. */
export async function runReport(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, { results: 'value', out: 'value', note: 'value', help: 'flag' }, 'report');
  if (args.options.has('help')) {
    console.log(REPORT_HELP);
    return;
  }
  if (args.positional.length) throw new UsageError(`report: unexpected argument "${args.positional[0]}"`);
  const note = optionValue(args, 'note');
  const file = writeReport({ results: optionValue(args, 'results'), out: optionValue(args, 'out'), ...(note ? { notes: [note] } : {}) });
  console.log(file);
}
