"""plum (and beartype) are imported at the first dispatch, not by importing or defining Transforms.

Each check runs in a fresh interpreter, since this test process has imported plum long ago. The same
script of resolutions runs twice, once with plum imported up front (as every call did before the
deferral) and once lazily; both must print the same chosen versions and the same errors.
"""

import json
import subprocess
import sys
import textwrap

# Defines Transforms and registers versions (no plum yet), then resolves: subclasses, unions, tuples of
# types, inheritance, a later `.dispatch`, no match (pass-through), an ambiguity and a bad annotation.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    if sys.argv[1] == "eager":
        import plum
    from dispatch_transforms import AmbiguousDispatchError, Pipeline, Transform

    class Animal: pass
    class Dog(Animal): pass
    class Puppy(Dog): pass

    class Describe(Transform):
        def encodes(self, x: Animal): return "animal"
        def encodes(self, x: Dog): return "dog"  # noqa: F811
        def encodes(self, x: int | float): return "number"  # noqa: F811
        def encodes(self, x: (str, bytes)): return "text"  # noqa: F811
        def decodes(self, x: str): return "decoded " + x

    class Sub(Describe):
        def encodes(self, x: float): return "sub float"

    @Describe.encodes.dispatch
    def _(self, x: Puppy): return "puppy"

    class Amb(Transform):
        def encodes(self, x: int | str): return "a"
        def encodes(self, x: int | float): return "b"  # noqa: F811

    class Bad(Transform):
        def encodes(self, x: "Missing"): return x  # noqa: F821

    pipe = Pipeline([Describe()])
    out = {"plum_before_first_call": "plum" in sys.modules or "beartype" in sys.modules}
    t, s = Describe(), Sub()
    out["results"] = [t(Animal()), t(Dog()), t(Puppy()), t(3), t(True), t(2.5), t("a"), t(b"b"), t([1]),
                      s(2.5), s(3), s(Dog()), t((Dog(), 1, None)), pipe.decode("x"), t.decode(1)]
    for name, call in [("ambiguous", lambda: Amb()(3)), ("undefined", lambda: Bad()(1))]:
        try:
            call()
            out[name] = None
        except Exception as e:
            out[name] = [type(e).__name__, str(e), type(e.__cause__).__name__ if e.__cause__ else None]
    out["plum_after"] = "plum" in sys.modules
    print(json.dumps(out))
    """
)


def _run(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_and_defining_transforms_does_not_import_plum():
    code = (
        "import sys\n"
        "import dispatch_transforms\n"
        "from dispatch_transforms import Transform\n"
        "class T(Transform):\n"
        "    def encodes(self, x: int): return x + 1\n"
        "@T.encodes.dispatch\n"
        "def _(self, x: str): return x\n"
        "print(sorted(m for m in ('plum', 'beartype') if m in sys.modules))\n"
        "print(T()(1), 'plum' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "2 True"]  # plum arrives with the first dispatch


def test_lazy_resolution_equals_eager_resolution():
    lazy, eager = _run("lazy"), _run("eager")
    assert lazy["plum_before_first_call"] is False and eager["plum_before_first_call"] is True
    assert lazy["plum_after"] is True
    expected = ["animal", "dog", "puppy", "number", "number", "number", "text", "text", [1],
                "sub float", "number", "dog", ["dog", "number", None], "decoded x", 1]  # fmt: skip
    assert lazy["results"] == expected
    assert lazy["results"] == eager["results"]
    assert lazy["ambiguous"][0] == "AmbiguousDispatchError" and "int | str" in lazy["ambiguous"][1]
    assert lazy["undefined"][0] == "TypeError" and lazy["undefined"][2] == "NameError"
    assert "undefined type" in lazy["undefined"][1]
    assert lazy["ambiguous"] == eager["ambiguous"] and lazy["undefined"] == eager["undefined"]
