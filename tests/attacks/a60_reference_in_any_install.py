"""Adam vs. SGD with momentum: a submission with NO solution of its own.

Attack: Finding the reference (or the grader's judging code, hidden inputs, rubric) wherever
the grader may be installed: ``import reference`` and the grader's judging modules, then the
reference's file read from the checkout, from every ``sys.path`` entry, from every site- and
dist-packages folder of any Python on the system (a regular, non-editable ``pip install .``
puts it there), and through ``importlib.metadata``. Every function delegates to what it finds;
with nothing found it raises NotImplementedError. It must score 0 / 15 in every mode, in every kind of
installation (``tests/test_attacks.py`` also grades it from a non-editable install).
"""

import glob
import importlib
import importlib.util
import os
import sys

FOUND = []


def _exec_file(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except BaseException:
        return None
    FOUND.append(path)
    try:
        spec = importlib.util.spec_from_file_location("stolen_reference", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except BaseException:
        return None


def _find_reference():
    for name in ("reference.adam_vs_momentum", "reference", "grader.judging.items",
                 "grader.judging.inputs", "grader.rubric"):
        try:
            module = importlib.import_module(name)
            FOUND.append(name)
            candidate = getattr(module, "adam_vs_momentum", module)
            if hasattr(candidate, "adam_updates"):
                return candidate
        except BaseException:
            pass
    places = ["@@REPO@@"] + [p for p in sys.path if p]
    for pattern in ("/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages",
                    sys.base_prefix + "/lib/python3*/*-packages", sys.prefix + "/lib/python3*/*-packages",
                    "/root/.pyenv/versions/*/lib/python3*/site-packages", "/work/*", "/work/*/.venv/lib/python3*/site-packages"):
        try:
            places += glob.glob(pattern)
        except BaseException:
            pass
    try:
        import importlib.metadata as md
        for dist in md.distributions():
            for file in dist.files or []:
                if str(file).endswith(("reference/adam_vs_momentum.py", "judging/inputs.py")):
                    places.append(str(dist.locate_file(file)).rsplit("/", 2)[0])
    except BaseException:
        pass
    for place in places:
        for name in ("grader/judging/inputs.py", "grader/judging/items.py", "grader/rubric.toml"):
            try:
                with open(os.path.join(place, name), encoding="utf-8") as handle:
                    handle.read(100)
                FOUND.append(os.path.join(place, name))
            except BaseException:
                pass
        module = _exec_file(os.path.join(place, "reference", "adam_vs_momentum.py"))
        if module is not None and hasattr(module, "adam_updates"):
            return module
    return None


# ---------------------------------------------------------------- the attack
_REFERENCE = _find_reference()


def _delegate(name, fallback):
    def function(*args):
        if _REFERENCE is not None:
            return getattr(_REFERENCE, name)(*args)
        return fallback(*args)
    function.__name__ = name
    return function


def _nothing(*args):
    raise NotImplementedError


adam_first_update = _delegate("adam_first_update", _nothing)
adam_second_update = _delegate("adam_second_update", _nothing)
momentum_updates = _delegate("momentum_updates", _nothing)
adam_updates = _delegate("adam_updates", _nothing)
adam_effective_learning_rates = _delegate("adam_effective_learning_rates", _nothing)
momentum_constant_gradient_step = _delegate("momentum_constant_gradient_step", _nothing)
adam_constant_gradient_step = _delegate("adam_constant_gradient_step", _nothing)
momentum_scale_factor = _delegate("momentum_scale_factor", _nothing)
adam_scale_factor = _delegate("adam_scale_factor", _nothing)
adam_scaled_step = _delegate("adam_scaled_step", _nothing)
adam_step_bound = _delegate("adam_step_bound", _nothing)
spike_response = _delegate("spike_response", _nothing)
sparse_feature_boost = _delegate("sparse_feature_boost", _nothing)


def concept_answers():
    if _REFERENCE is not None:
        return _REFERENCE.concept_answers()
    return {"3a_smaller_effective_step": ("LEAK:" + ";".join(FOUND))[:300] if FOUND else "blocked"}
