"""An on-demand feature view's function as the registry stores it: its source text, the modules
and importable names it uses by a global name, and its JSON constants; re-created from them by
``exec`` when the registry is read.

Limits (each an error naming the function and the fix): a lambda has no source of its own; a
closure over local variables and a global that is neither a module, an importable name nor a JSON
constant (an object built in the definition file) cannot be re-created from text.
"""

from __future__ import annotations

import ast
import builtins
import dis
import importlib
import inspect
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlfeat.errors import DefinitionError

_CONSTANTS = (bool, int, float, str, type(None))


@dataclass(frozen=True)
class UdfSource:
    """``imports``: (global name, module, attribute or "") each; ``constants``: (name, value)."""

    name: str
    source: str
    imports: tuple[tuple[str, str, str], ...] = ()
    constants: tuple[tuple[str, Any], ...] = ()

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "imports": [list(i) for i in self.imports],
                "constants": dict(self.constants)}  # fmt: skip

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> UdfSource:
        return cls(spec["name"], spec["source"], tuple(tuple(i) for i in spec.get("imports", ())),
                   tuple(sorted(spec.get("constants", {}).items())))  # fmt: skip

    def parameter(self) -> str | None:
        """The name of the function's first parameter (its inputs)."""
        node = _function_node(self.source)
        return node.args.args[0].arg if node is not None and node.args.args else None

    def load(self, where: str) -> Callable:
        """The function, re-created from its text in a namespace of its imports and constants."""
        namespace: dict[str, Any] = {"__name__": f"sqlfeat_udf_{self.name}"}
        try:
            for alias, module, attribute in self.imports:
                loaded = importlib.import_module(module)
                namespace[alias] = getattr(loaded, attribute) if attribute else loaded
            namespace.update(dict(self.constants))
            exec(compile(self.source, f"<{where}: {self.name}>", "exec"), namespace)  # noqa: S102 - the user's own code
        except Exception as err:
            raise DefinitionError(f"{where}: its function {self.name!r} cannot be re-created from the registry: {err}") from None
        if not callable(namespace.get(self.name)):
            raise DefinitionError(f"{where}: its registered source does not define function {self.name!r}")
        return namespace[self.name]


def _function_node(source: str) -> ast.FunctionDef | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)


def capture_udf(udf: Any, where: str) -> UdfSource:
    """``udf``'s source (without its decorators) and what it needs from its module's globals."""
    if not isinstance(udf, types.FunctionType):
        raise DefinitionError(f"{where}: its function must be a plain Python function (def), got {udf!r}")
    name = udf.__name__
    if name == "<lambda>":
        raise DefinitionError(f"{where}: a lambda cannot be registered (its source text is not its own); use a def")
    if udf.__code__.co_freevars:
        raise DefinitionError(
            f"{where}: function {name!r} is a closure over {list(udf.__code__.co_freevars)}, which cannot be re-created "
            "from the registry; define it at the top level of the definition file"
        )
    try:
        text = textwrap.dedent(inspect.getsource(udf))
    except (OSError, TypeError) as err:
        raise DefinitionError(f"{where}: the source of function {name!r} cannot be read ({err}); define it in a .py file") from None
    node = _function_node(text)
    if node is None or node.name != name:
        raise DefinitionError(f"{where}: function {name!r} must be defined with a top-level def")
    source = "\n".join(text.splitlines()[node.lineno - 1 :]) + "\n"
    imports, constants = [], []
    for global_name in sorted(_global_names(udf.__code__)):
        if global_name not in udf.__globals__:
            continue  # a builtin, or a name the function never reaches
        value = udf.__globals__[global_name]
        if isinstance(value, types.ModuleType):
            imports.append((global_name, value.__name__, ""))
        elif _importable(value):
            imports.append((global_name, value.__module__, value.__qualname__))
        elif isinstance(value, _CONSTANTS):
            constants.append((global_name, value))
        else:
            raise DefinitionError(
                f"{where}: function {name!r} uses global {global_name!r} ({type(value).__name__}), which cannot be "
                "stored in the registry; import it inside the function, or make it a constant (number or text)"
            )
    return UdfSource(name, source, tuple(imports), tuple(constants))


def _global_names(code: types.CodeType) -> set[str]:
    """The global names ``code`` (and the functions nested in it) loads; not attribute names
    (``df.clicks`` reads no global ``clicks``)."""
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    names = {n for n in names if isinstance(n, str) and not hasattr(builtins, n)}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _importable(value: Any) -> bool:
    """A function or class defined in an installed module (not the definition file itself)."""
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not module or not qualname or module.startswith("sqlfeat_repo_") or module == "__main__" or "<" in qualname:
        return False
    try:
        return getattr(importlib.import_module(module), qualname, None) is value
    except Exception:  # noqa: BLE001 - any failure means: not importable by name
        return False
