#!/usr/bin/env node
// Node counts per decode step: how many operators one step of each decoder graph runs, by type, as written
// by the builder and (for model folders given on the command line) after ONNX Runtime's graph optimisations.
//   node scripts/graph-nodes.mjs                  SmolLM2-135M and GPT-2-small shapes, reference vs fused,
//                                                 with the layout `pull` writes (every exit, hidden only)
//   node scripts/graph-nodes.mjs DIR [DIR...]     model folders: as written and as optimised by ONNX Runtime
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// Graph builders and the ONNX reader are layer internals, behind the graph and generate subpath modules.
const ac = { ...require('../dist/index.js'), ...require('../dist/model/graph/index.js'), ...require('../dist/generate/index.js') };

function tally(nodes) {
  const m = new Map();
  for (const n of nodes) m.set(n.opType, (m.get(n.opType) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}
function show(label, nodes) {
  const t = tally(nodes);
  console.log(`${label}: ${nodes.length} nodes`);
  console.log(`  ${t.map(([op, n]) => `${op} ${n}`).join(', ')}`);
}

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  for (const [name, config] of [['smollm2-135m', ac.SMOLLM2_135M_CONFIG], ['gpt2-small', ac.GPT2_SMALL_CONFIG]]) {
    // weights are lazy: building the graph reads none of them
    const weights = ac.tinyDecoderWeights(config, 1);
    const exits = Array.from({ length: config.numLayers + 1 }, (_, L) => ({ layer: L, kind: 'lens', logits: false }));
    for (const graphForm of ['reference', 'fused']) {
      const built = ac.buildDecoderGraph(config, weights, { exits, logitPositions: 'input', graphForm });
      show(`${name}, ${built.graphForm ?? 'reference'} graph (asked: ${graphForm})`, built.graph.nodes);
    }
  }
} else {
  const ort = require('onnxruntime-node');
  for (const dir of dirs) {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'autocontrast.json'), 'utf8'));
    const file = path.join(dir, m.graph.file);
    show(`${dir} (${m.graph.form ?? 'reference'} graph, weights ${m.weights?.form ?? '?'}), as written`, ac.readOnnxGraph(file).nodes);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-nodes-'));
    const optimized = path.join(tmp, 'optimized.onnx');
    const s = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized });
    await s.release();
    show(`${dir}, after ONNX Runtime's optimisations (level all)`, ac.readOnnxGraph(optimized).nodes);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
