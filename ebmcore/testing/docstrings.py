r"""The project's docstring format, as a check any plugin can run on its own public API.

Every public class and function has a Google-style docstring:

.. code-block:: text

    One-line summary ending with a period.

    Optional longer description (the maths, conventions).

    References:
        Authors, "Title", venue, arXiv 1234.56789.   (where it implements a paper)

    Arguments:                                       (functions; classes: the constructor's)
        x: what it is, with its tensor shape ``(B, *event_shape)``.
        **cond: conditions, each ``(B,)``.

    Attributes:                                      (attrs/config classes: their fields)
        step_size: ...

    Returns:                                         (functions that return something)
        What comes back, with shapes.

    Examples:
        >>> ...                                      (run as a doctest)

:func:`docstring_problems` lists what one object lacks; :func:`run_examples` runs its examples.
"""

from __future__ import annotations

import doctest
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import attrs

__all__ = ["docstring_problems", "public_objects", "run_examples"]

_SECTION = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")
_ARG_SECTIONS = ("Arguments", "Args")
_RETURN_SECTIONS = ("Returns", "Yields")
_EXAMPLE_SECTIONS = ("Examples",)  # the title mkdocstrings renders as code; "Example:" would be prose
_REFERENCE_SECTIONS = ("References", "Reference")


def _sections(doc: str) -> dict[str, list[str]]:
    """Split a cleaned docstring into ``{section title: body lines}`` (top-level titles only)."""
    out: dict[str, list[str]] = {"": []}
    current = ""
    for line in doc.splitlines():
        m = _SECTION.match(line)
        if m and not line.startswith(" "):
            current = m.group(1)
            out[current] = []
        else:
            out[current].append(line)
    return out


def _documented_names(lines: list[str]) -> set[str]:
    """Names documented in a section body: ``name: ...`` or ``a, b: ...`` at the body's first indent."""
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    if not indents:
        return set()
    base = min(indents)
    names: set[str] = set()
    for ln in lines:
        if ln.strip() and len(ln) - len(ln.lstrip()) == base and ":" in ln:
            head = ln.split(":", 1)[0]
            names.update(n.strip().split(" ")[0] for n in head.split(","))
    return names


def _parameters(func: Callable[..., Any]) -> list[str]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    names = []
    for p in sig.parameters.values():
        if p.name in ("self", "cls") or p.name.startswith("_"):
            continue
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(p.kind, "")
        names.append(prefix + p.name)
    return names


def _returns_something(func: Callable[..., Any]) -> bool:
    try:
        ann = inspect.signature(func).return_annotation
    except (TypeError, ValueError):
        return False
    return ann not in (None, "None", inspect.Signature.empty)


def _own_init(cls: type) -> Callable[..., Any] | None:
    init = cls.__dict__.get("__init__")
    return init if callable(init) else None


def docstring_problems(obj: Any, *, needs_reference: bool = False) -> list[str]:
    """What a public class or function's docstring lacks, one message per problem.

    Arguments:
        obj: a class or function.
        needs_reference: require a ``References:`` section citing an arXiv id (components that implement
            a paper).

    Returns:
        A list of messages (empty when the docstring follows the format).

    Examples:
        >>> def scale(x, factor=2.0):
        ...     '''Multiply.'''
        ...     return x * factor
        >>> docstring_problems(scale)
        ['Arguments: undocumented x, factor', 'no Examples section with a doctest (>>>)']
    """
    doc = inspect.getdoc(obj) if obj.__doc__ else None
    if not doc or not doc.strip():
        return ["no docstring"]
    problems = []
    summary = doc.strip().split("\n\n", 1)[0].strip()
    if not summary.endswith((".", ".)", ":")):
        problems.append(f"the summary should be a sentence ending with a period: {summary[:60]!r}")
    sections = _sections(doc)
    label, titles = "Arguments", _ARG_SECTIONS
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        params: list[str] = []
    elif inspect.isclass(obj) and attrs.has(obj):  # configs and results: their fields
        params = [f.name for f in attrs.fields(obj) if not f.name.startswith("_") and f.init]
        label, titles = "Attributes", ("Attributes", *_ARG_SECTIONS)
    elif inspect.isclass(obj):
        init = None if Protocol in obj.__mro__ else _own_init(obj)
        params = _parameters(init) if init is not None else []
    else:
        params = _parameters(obj)
    documented = set().union(*(_documented_names(sections.get(t, [])) for t in titles))
    missing = [p for p in params if p not in documented and p.lstrip("*") not in documented]
    if missing:
        problems.append(f"{label}: undocumented {', '.join(missing)}")
    if inspect.isfunction(obj) and _returns_something(obj) and not any(t in sections for t in _RETURN_SECTIONS):
        problems.append("no Returns section")
    if not any(">>>" in "\n".join(sections.get(t, [])) for t in _EXAMPLE_SECTIONS):
        problems.append("no Examples section with a doctest (>>>)")
    if needs_reference:
        refs = "\n".join("\n".join(sections.get(t, [])) for t in _REFERENCE_SECTIONS)
        if "arxiv" not in refs.lower():
            problems.append("no References section citing the paper's arXiv id")
    return problems


def public_objects(modules: Iterable[str]) -> dict[str, Any]:
    """The classes and functions in the ``__all__`` of ``modules``, each once, keyed by where it is defined.

    Arguments:
        modules: dotted module names.

    Returns:
        ``{"defining.module.Name": object}``.

    Examples:
        >>> objs = public_objects(["ebmcore.public"])
        >>> sorted(objs)
        ['ebmcore.public.is_public', 'ebmcore.public.public_names']
    """
    import importlib

    found: dict[str, Any] = {}
    for name in modules:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                key = f"{getattr(obj, '__module__', name)}.{getattr(obj, '__qualname__', attr)}"
                found.setdefault(key, obj)
    return found


def run_examples(obj: Any, *, setup: Callable[[], None] | None = None) -> doctest.TestResults:
    """Run the doctest examples of one object's own docstring (not its members').

    Arguments:
        obj: a class or function.
        setup: called before the examples run (e.g. to seed torch).

    Returns:
        ``doctest.TestResults(failed, attempted)``.

    Examples:
        >>> def double(x):
        ...     '''Twice ``x``.
        ...
        ...     Examples:
        ...         >>> double(2)
        ...         4
        ...     '''
        ...     return 2 * x
        >>> run_examples(double)
        TestResults(failed=0, attempted=1)
    """
    module = inspect.getmodule(obj)
    globs = dict(vars(module)) if module is not None else {}
    globs.setdefault(getattr(obj, "__name__", "obj"), obj)
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    name = getattr(obj, "__qualname__", repr(obj))
    for test in finder.find(obj, name, globs=globs):
        if setup is not None:
            setup()
        runner.run(test)
    return runner.summarize(verbose=False)
