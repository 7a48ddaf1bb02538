import { suite } from 'uvu';
import { graph } from './helpers.mjs';
import { parityTests } from './parity-suite.mjs';

const half = suite('llama GQA 4/2, half rotary, untied');
parityTests(half, graph.TINY_LLAMA_CONFIG);
half.run();

const interleaved = suite('llama GQA 4/2, interleaved rotary, tied, q/k/v biases (Qwen2)');
parityTests(interleaved, { ...graph.TINY_LLAMA_CONFIG, rotary: 'interleaved', tieWordEmbeddings: true, attentionBias: true });
interleaved.run();

const mha = suite('llama MHA 4/4, head dim 8');
parityTests(mha, { ...graph.TINY_LLAMA_CONFIG, numKvHeads: 4, headDim: 8 });
mha.run();
