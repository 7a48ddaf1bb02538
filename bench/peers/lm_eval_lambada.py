"""lm-evaluation-harness itself on the local LAMBADA file: its own `lambada_openai` task definition, with only the
data source changed (the harness downloads EleutherAI/lambada_openai from the Hugging Face Hub, which the machines
of this project cannot reach; ../shared/data/lambada/lambada_test.jsonl is the same OpenAI test file, see
data/SOURCES.md). The task YAML is read from the installed harness at run time and copied with `dataset_path`
switched to the `json` builder over the local file, so doc_to_text, doc_to_target, output_type and metrics are the
harness's own. The model runs either through the harness's Hugging Face backend (`hf`) on the float32 weights that
transformers dequantises from the GGUF, or (--server) through the harness's `local-completions` backend against an
OpenAI-compatible /v1/completions server (`autocontrast serve`): the harness tokenises with the Hugging Face
tokenizer in --tokenizer DIR (a folder with the model's tokenizer.json and a tokenizer_config.json), sends token-id
prompts with echo, max_tokens 1 and logprobs 1, and reads the continuation's log-probabilities and greedy verdicts
from the echoed prompt.

usage: python lm_eval_lambada.py GGUF_FILE LAMBADA_JSONL [--limit N | --range START:END] [--batch B] [--threads T]
                                [--out FILE]
       python lm_eval_lambada.py MODEL_NAME LAMBADA_JSONL --server URL --tokenizer DIR [--limit N | --range START:END]
                                [--batch B] [--out FILE]
--range runs passages START..END-1 only (the harness's own `samples` selection), so that the full set can run as
chunks that each finish on a shared machine; eval-harness.mjs joins the chunks.
Writes (to --out, else stdout) one JSON object: {lm_eval, torch, transformers, task, limit, range, seconds, acc,
perplexity, docs: [{"doc": i, "ll": float, "greedy": 0|1}, ...]}.
"""
import argparse
import json
import os
import sys
import tempfile
import time


def local_task_yaml(data_file, tmp):
    import lm_eval
    import yaml

    src = os.path.join(os.path.dirname(lm_eval.__file__), 'tasks', 'lambada', 'lambada_openai.yaml')
    with open(src) as fh:
        spec = yaml.safe_load(fh)
    spec['task'] = 'lambada_openai_local'
    spec.pop('tag', None)
    spec.pop('dataset_name', None)
    spec['dataset_path'] = 'json'
    spec['dataset_kwargs'] = {'data_files': {spec['test_split']: os.path.abspath(data_file)}}
    path = os.path.join(tmp, 'lambada_openai_local.yaml')
    with open(path, 'w') as fh:
        yaml.safe_dump(spec, fh)
    return src, spec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('gguf', help='the GGUF file (hf backend), or with --server the served model name')
    ap.add_argument('data')
    ap.add_argument('--limit', type=int, default=None)
    ap.add_argument('--range', default=None, help='START:END, passages START..END-1')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', default=None)
    ap.add_argument('--server', default=None, help='base URL of an OpenAI-compatible server (http://HOST:PORT/v1)')
    ap.add_argument('--tokenizer', default=None, help='with --server: a Hugging Face tokenizer folder')
    a = ap.parse_args()
    if a.server is not None and a.tokenizer is None:
        ap.error('--server needs --tokenizer DIR (the harness counts context tokens with it)')
    rng = None
    if a.range is not None:
        if a.limit is not None:
            ap.error('--limit and --range exclude each other')
        try:
            start, end = (int(x) for x in a.range.split(':'))
        except ValueError:
            ap.error(f'--range must be START:END (integers), got {a.range!r}')
        if not 0 <= start < end:
            ap.error(f'--range needs 0 <= START < END, got {a.range!r}')
        rng = (start, end)
    # Nothing is fetched: the data is local, the model is a local GGUF.
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    os.environ.setdefault('HF_DATASETS_OFFLINE', '1')
    import torch
    import transformers
    import lm_eval
    from lm_eval.tasks import TaskManager

    torch.set_num_threads(a.threads)
    tmp = tempfile.mkdtemp(prefix='ac-lm-eval-')
    src, spec = local_task_yaml(a.data, tmp)
    if a.server is not None:
        backend = 'local-completions'
        # max_length: the server's default context (2048); the harness keeps one position for the generated token.
        model_args = {'model': a.gguf, 'base_url': a.server.rstrip('/') + '/completions', 'tokenizer_backend': 'huggingface',
                      'tokenizer': os.path.abspath(a.tokenizer), 'tokenized_requests': True, 'max_length': 2048,
                      'num_concurrent': 1, 'max_retries': 1, 'timeout': 3600}
    else:
        backend = 'hf'
        d, f = os.path.split(os.path.abspath(a.gguf))
        model_args = {'pretrained': d, 'gguf_file': f, 'dtype': 'float32', 'device': 'cpu'}
    t0 = time.perf_counter()
    res = lm_eval.simple_evaluate(
        model=backend,
        model_args=model_args,
        tasks=['lambada_openai_local'],
        task_manager=TaskManager(include_path=tmp),
        limit=a.limit,
        samples={'lambada_openai_local': list(range(*rng))} if rng else None,
        batch_size=a.batch,
        log_samples=True,
    )
    seconds = time.perf_counter() - t0
    r = res['results']['lambada_openai_local']
    docs = []
    for s in res['samples']['lambada_openai_local']:
        # filtered_resps: [(loglikelihood, is_greedy)] for the one request of a loglikelihood doc
        ll, greedy = s['filtered_resps'][0]
        docs.append({'doc': int(s['doc_id']), 'll': float(ll), 'greedy': 1 if greedy else 0})
    docs.sort(key=lambda x: x['doc'])
    out = {
        'lm_eval': getattr(lm_eval, '__version__', 'unknown'),
        'backend': backend,
        'server': a.server,
        'torch': torch.__version__,
        'transformers': transformers.__version__,
        'threads': torch.get_num_threads(),
        'task': {'source': src, 'doc_to_text': spec['doc_to_text'], 'doc_to_target': spec['doc_to_target'],
                 'output_type': spec['output_type'], 'metrics': [m['metric'] for m in spec['metric_list']]},
        'limit': a.limit,
        'range': list(rng) if rng else None,
        'batch': a.batch,
        'seconds': seconds,
        'acc': r.get('acc,none'),
        'perplexity': r.get('perplexity,none'),
        'docs': docs,
    }
    text = json.dumps(out)
    if a.out:
        with open(a.out, 'w') as fh:
            fh.write(text + '\n')
    else:
        print(text)


if __name__ == '__main__':
    sys.exit(main())
