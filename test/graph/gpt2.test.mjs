import { suite } from 'uvu';
import { graph } from './helpers.mjs';
import { parityTests } from './parity-suite.mjs';

const tied = suite('gpt2 (tied head)');
parityTests(tied, graph.TINY_GPT2_CONFIG);
tied.run();

const untied = suite('gpt2 (untied head, 2 heads)');
parityTests(untied, { ...graph.TINY_GPT2_CONFIG, tieWordEmbeddings: false, numHeads: 2 });
untied.run();
