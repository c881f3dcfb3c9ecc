"""The package layout is layered and acyclic: each module imports only from its own layer or the layers below,
at module level (no imports inside functions that would hide a cycle), and the module graph has no cycle.

Imports under `if TYPE_CHECKING:` are annotations only (a callback names `Learner` as the type of `self.learn`)
and are not followed.
"""

import ast
import graphlib
from pathlib import Path

import trainloop_callbacks

ROOT = Path(trainloop_callbacks.__file__).parent
PKG = "trainloop_callbacks"

# top to bottom; a module may import from its own layer and every layer below
LAYERS = [
    {"gan", "loading"},
    {"learner", "techniques"},
    {"schedule", "inference", "callbacks", "models", "distributed", "trackers"},
    {"loop"},
    {"metrics", "losses", "batches", "plotting", "layers", "__about__"},
]
# optional extras, imported when used (trackers: the experiment trackers' clients)
LAZY_OK = {
    "fastprogress", "PIL", "matplotlib", "torchvision", "torch", "tensorboard", "tensorboardX", "mlflow", "wandb",
    "numpy",  # comes with the tensorboard extra (its image summaries)
}  # fmt: skip


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        yield ".".join([PKG, *parts]), path


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def _layer(module: str) -> int:
    part = _part(module)
    return next(i for i, layer in enumerate(LAYERS) if part in layer)


def _imports(path: Path):
    """(imported module, inside a function) for every import outside `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())

    def walk(node, in_func):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            func = in_func or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom) and child.module:
                if child.module == PKG:  # `from trainloop_callbacks import x` names a module
                    for a in child.names:
                        yield f"{PKG}.{a.name}", func
                else:
                    yield child.module, func
            elif isinstance(child, ast.Import):
                for a in child.names:
                    yield a.name, func
            yield from walk(child, func)

    yield from walk(tree, False)


def _graph():
    names = {m for m, _ in _modules()}
    graph, lazy = {}, []
    for mod, path in _modules():
        deps = set()
        for imp, in_func in _imports(path):
            if in_func and imp.split(".")[0] not in LAZY_OK:
                lazy.append(f"{mod} imports {imp} inside a function")
            if imp.startswith(PKG + ".") or imp == PKG:
                # the module itself, or the package whose __init__ it is
                target = imp if imp in names else imp.rsplit(".", 1)[0]
                deps.add(target)
        graph[mod] = deps - {mod}
    return graph, lazy


def test_no_imports_inside_functions():
    _, lazy = _graph()
    assert lazy == []


def test_module_graph_is_acyclic():
    graph, _ = _graph()
    graph = {m: {d for d in deps if d != PKG} for m, deps in graph.items() if m != PKG}  # __init__ imports all
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle


def test_layers_import_downwards_only():
    graph, _ = _graph()
    bad = []
    for mod, deps in graph.items():
        if mod == PKG:
            continue
        for dep in deps:
            if dep == PKG:
                bad.append(f"{mod} imports the top package")
            elif _layer(dep) < _layer(mod):
                bad.append(f"{mod} (layer {_layer(mod)}) imports {dep} (layer {_layer(dep)})")
    assert bad == []


def test_every_module_has_a_layer():
    for mod, _ in _modules():
        if mod != PKG:
            _layer(mod)
