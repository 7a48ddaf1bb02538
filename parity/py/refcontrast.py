"""Loads the reference contrast function `calculate_contrasted_logits` from the installed
`autocontrastive-gen` package (installed with --no-deps: its metadata pins torch 1.11 and
transformers 4.26).

The function body does `from autocontrastive_gen.utils import device`, and `utils` imports the
package's multi-exit model classes (written against transformers 4.26). We try the ordinary
import first; if `autocontrastive_gen.utils` does not import with the installed transformers,
we register a minimal stand-in module for `autocontrastive_gen.utils` that only defines `device`
(what the function reads), then load `contrast_calculation.py` from the installed file path.
`HOW` records which of the two happened.
"""
import importlib.util
import os
import sys
import types

import torch

HOW = None


def _load():
    global HOW
    spec = importlib.util.find_spec('autocontrastive_gen')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('autocontrastive-gen is not installed in this environment')
    pkg_dir = list(spec.submodule_search_locations)[0]
    path = os.path.join(pkg_dir, 'contrast_calculation.py')
    try:
        import autocontrastive_gen.utils  # noqa: F401  (pulls in the package's model classes)
        from autocontrastive_gen.contrast_calculation import calculate_contrasted_logits as f
        HOW = 'import autocontrastive_gen.contrast_calculation (package imports cleanly)'
        return f, path
    except Exception as e:  # old-transformers APIs in the package's model code
        why = f'{type(e).__name__}: {e}'.splitlines()[0][:160]
    for name in [n for n in sys.modules if n.startswith('autocontrastive_gen')]:
        del sys.modules[name]
    pkg = types.ModuleType('autocontrastive_gen')
    pkg.__path__ = [pkg_dir]
    utils = types.ModuleType('autocontrastive_gen.utils')
    utils.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    sys.modules['autocontrastive_gen'] = pkg
    sys.modules['autocontrastive_gen.utils'] = utils
    s = importlib.util.spec_from_file_location('autocontrastive_gen.contrast_calculation', path)
    mod = importlib.util.module_from_spec(s)
    sys.modules['autocontrastive_gen.contrast_calculation'] = mod
    s.loader.exec_module(mod)
    HOW = (f'loaded {path} by file path with a stand-in autocontrastive_gen.utils (device only), '
           f'because importing the package failed: {why}')
    return mod.calculate_contrasted_logits, path


calculate_contrasted_logits, PATH = _load()
