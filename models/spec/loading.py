"""Loading a spec: from a file (YAML or JSON), by the name of a problem shipped with the
package, the default problem, and the spec an exported model was trained on."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from models.signatures import SPEC_FILE
from models.spec.parsing import SpecError
from models.spec.problem import ProblemSpec

PROBLEMS_DIR = Path(__file__).resolve().parent.parent / "problems"
DEFAULT_SPEC_PATH = PROBLEMS_DIR / "recommendation" / "spec.yaml"


def load_spec(path: str | Path) -> ProblemSpec:
    """Reads and validates a spec file (.yaml, .yml or .json)."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise SpecError(source, "file", "does not exist (expected a YAML or JSON problem spec)")
    text = path.read_text()
    try:
        if path.suffix == ".json":
            values = json.loads(text, object_pairs_hook=_no_duplicates_json)
        else:
            values = _load_yaml(text)
    except SpecError as e:
        raise SpecError(source, e.field, str(e).split(": ", 2)[-1]) from None
    except ValueError as e:  # json.JSONDecodeError
        raise SpecError(source, "file", f"is not valid JSON: {e}") from None
    except Exception as e:  # yaml.YAMLError
        raise SpecError(source, "file", f"is not valid YAML: {e}") from None
    return ProblemSpec.from_dict(values, source)


def packaged_problems() -> tuple[str, ...]:
    """The problems shipped with the package (`models/problems/<name>/spec.yaml`)."""
    return tuple(sorted(p.parent.name for p in PROBLEMS_DIR.glob("*/spec.yaml")))


def resolve_spec(value: str) -> ProblemSpec:
    """`--spec VALUE`: a spec file, or the name of a problem shipped with the package."""
    path = Path(value)
    if not path.exists() and value in packaged_problems():
        return load_spec(PROBLEMS_DIR / value / "spec.yaml")
    if not path.exists():
        raise SpecError(value, "file", f"does not exist, and is not a problem shipped with the "
                                       f"package ({', '.join(packaged_problems())})")
    return load_spec(path)


@functools.lru_cache(maxsize=1)
def default_spec() -> ProblemSpec:
    """The default problem, shipped with the package."""
    return load_spec(DEFAULT_SPEC_PATH)


def load_model_spec(model_dir: str) -> tuple[ProblemSpec, tuple[str, ...]] | None:
    """(the problem spec, the trained task names) an exported model was trained on
    (`assets.extra/problem_spec.json`, written by `models.export`); None for a model exported
    without one."""
    path = Path(model_dir) / SPEC_FILE
    if not path.is_file():
        return None
    values = json.loads(path.read_text())
    trained = tuple(values.pop("trained_tasks", ()))
    spec = ProblemSpec.from_dict(values, str(path))
    return spec, trained or tuple(t.name for t in spec.default_tasks)


def _no_duplicates_json(pairs):
    keys = [k for k, _ in pairs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise SpecError(None, duplicates[0], "is given twice in one object")
    return dict(pairs)


def _load_yaml(text: str):
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise SpecError(None, str(key), f"is given twice in one mapping (line "
                                                f"{key_node.start_mark.line + 1})")
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)
