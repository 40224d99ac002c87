"""Rules every node of a strategy's syntax tree must follow, wherever it is.

Names, attributes, imports, string templates, constants and the kinds of
statement. The rules that only apply to what runs while the strategy loads
(top-level and class-body code) are in ``_loadtime``.
"""

from __future__ import annotations

import ast
import re

from strategies.loader import _names, _numpy
from strategies.loader._constants import TooBig, fold
from strategies.loader._errors import Problem
from strategies.loader._modules import ALLOWED_MODULES, POLICIES, public_names

_OPERATORS = tuple(
    getattr(ast, n)
    for n in """Add Sub Mult MatMult Div Mod Pow LShift RShift BitOr BitXor BitAnd FloorDiv
    Invert Not UAdd USub And Or Eq NotEq Lt LtE Gt GtE Is IsNot In NotIn""".split()
)
ALLOWED_NODES: tuple[type, ...] = (
    ast.Module,
    ast.Expr,
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.Return,
    ast.Delete,
    ast.Pass,
    ast.Break,
    ast.Continue,
    ast.If,
    ast.For,
    ast.While,
    ast.With,
    ast.withitem,
    ast.Raise,
    ast.Try,
    ast.ExceptHandler,
    ast.Assert,
    ast.Import,
    ast.ImportFrom,
    ast.alias,
    ast.FunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.arguments,
    ast.arg,
    ast.keyword,
    ast.Global,
    ast.Nonlocal,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.IfExp,
    ast.Compare,
    ast.Dict,
    ast.Set,
    ast.List,
    ast.Tuple,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.comprehension,
    ast.Yield,
    ast.YieldFrom,
    ast.Call,
    ast.FormattedValue,
    ast.JoinedStr,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Starred,
    ast.Name,
    ast.Slice,
    ast.NamedExpr,
    ast.Load,
    ast.Store,
    ast.Del,
    *_OPERATORS,
)
"""Syntax a strategy may use; anything else (async, await, match, except*, type
statements, whatever later Pythons add) is refused."""

_UNSUPPORTED = {
    "AsyncFunctionDef": "async functions",
    "AsyncFor": "async for",
    "AsyncWith": "async with",
    "Await": "await",
    "Match": "match statements",
    "TryStar": "except*",
    "TypeAlias": "type statements",
}
_DUNDER_STRING = re.compile(r"^_{2}\w+_{2}$")


def _where(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", -1) + 1


def problem(node: ast.AST, what: str, why: str) -> Problem:
    line, col = _where(node)
    return Problem(line, col, what, why)


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Each node's parent."""
    out: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            out[child] = node
    return out


def _inside_function(node: ast.AST, up: dict[ast.AST, ast.AST]) -> bool:
    node = up.get(node)  # type: ignore[assignment]
    while node is not None:
        if isinstance(node, (ast.FunctionDef, ast.Lambda, ast.AsyncFunctionDef)):
            return True
        node = up.get(node)  # type: ignore[assignment]
    return False


def _is_super_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "super"
        and not node.args
        and not node.keywords
    )


def _module_level_dunder_target(node: ast.Name, up: dict[ast.AST, ast.AST]) -> bool:
    parent = up.get(node)
    return (
        node.id in _names.MODULE_DUNDERS
        and isinstance(node.ctx, ast.Store)
        and isinstance(parent, ast.Assign)
        and isinstance(up.get(parent), ast.Module)
    )


class NodeRules:
    """Checks each node; ``problems`` collects what is refused."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.up = parents(tree)
        self.problems: list[Problem] = []

    def report(self, node: ast.AST, what: str, why: str) -> None:
        self.problems.append(problem(node, what, why))

    def run(self) -> list[Problem]:
        for node in ast.walk(self.tree):
            if not isinstance(node, ALLOWED_NODES):
                kind = type(node).__name__
                what = _UNSUPPORTED.get(kind, kind)
                self.report(node, what, "this syntax is not supported in strategies")
                continue
            check = getattr(self, f"_{type(node).__name__}", None)
            if check is not None:
                check(node)
        return self.problems

    # -- names ----------------------------------------------------------------
    def _name(self, node: ast.AST, name: str, what: str) -> None:
        why = _names.name_problem(name)
        if why:
            self.report(node, f"{what} {name!r}", why)

    def _Name(self, node: ast.Name) -> None:
        name = _names.normalise(node.id)
        if name == "super":
            parent = self.up.get(node)
            if not (_is_super_call(parent) and parent.func is node):  # type: ignore[union-attr]
                self.report(node, "super", "call super() with no arguments, inside a method")
            return
        if _module_level_dunder_target(node, self.up):
            return
        self._name(node, name, "the name")

    def _FunctionDef(self, node: ast.FunctionDef) -> None:
        name = _names.normalise(node.name)
        if _names.is_dunder(name):
            if not isinstance(self.up.get(node), ast.ClassDef):
                self.report(node, f"the function {name!r}", "special methods belong in a class")
            elif name not in _names.ALLOWED_DUNDER_METHODS:
                allowed = ", ".join(sorted(_names.ALLOWED_DUNDER_METHODS))
                self.report(
                    node,
                    f"the special method {name!r}",
                    f"strategies may define only these special methods: {allowed}",
                )
            return
        self._name(node, name, "the function")

    def _ClassDef(self, node: ast.ClassDef) -> None:
        self._name(node, _names.normalise(node.name), "the class")
        for kw in node.keywords:
            what = f"the class keyword {kw.arg or '**'}"
            self.report(kw, what, "classes take no keywords (no metaclass=)")
        if _inside_function(node, self.up):
            why = "define classes at the top level, not inside functions"
            self.report(node, f"the class {node.name!r}", why)

    def _arg(self, node: ast.arg) -> None:
        self._name(node, _names.normalise(node.arg), "the parameter")

    def _keyword(self, node: ast.keyword) -> None:
        if node.arg is not None:
            name = _names.normalise(node.arg)
            why = (
                "double-underscore names are Python's internals"
                if name.startswith("__")
                else _numpy.NO_RAW_MEMORY
                if name in _names.RAW_MEMORY_KEYWORDS
                else _names.identifier_problem(name)
            )
            if why:
                self.report(node, f"the keyword argument {name!r}", why)
            elif name == "dtype":
                self._dtype(node.value)

    # -- numpy: raw memory and object dtypes ------------------------------------
    def _Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        name = _names.normalise(name) if isinstance(name, str) else None
        if name == "ndarray":
            self.report(node, "np.ndarray(...)", _numpy.NO_RAW_MEMORY)
        elif name in _names.DTYPE_CALLS:
            for arg in node.args:
                self._dtype(arg)

    def _dtype(self, node: ast.AST) -> None:
        """A dtype argument: no string constant in it may name an object dtype ("O", "object")."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and _numpy.object_dtype(sub.value):
                self.report(sub, f"the dtype {sub.value!r}", _numpy.NO_OBJECT_DTYPE)

    def _Global(self, node: ast.Global | ast.Nonlocal) -> None:
        for name in node.names:
            self._name(node, _names.normalise(name), "the name")

    _Nonlocal = _Global

    def _ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            why = "catch Exception (or narrower) so interrupts get through"
            self.report(node, "a bare except:", why)
        if node.name is not None:
            self._name(node, _names.normalise(node.name), "the name")

    # -- attributes -----------------------------------------------------------
    def _Attribute(self, node: ast.Attribute) -> None:
        attr = _names.normalise(node.attr)
        what = f"the attribute .{attr}"
        if attr.startswith("_"):
            if _names.is_dunder(attr) and attr in _names.SUPER_DUNDERS and _is_super_call(node.value):
                return
            if attr in _names.NAMEDTUPLE_API:
                return
            on_own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if on_own and not attr.startswith("__"):
                return
            why = (
                "double-underscore attributes are Python's internals"
                if attr.startswith("__")
                else "underscore attributes are internals; only self._x and cls._x are allowed"
            )
            self.report(node, what, why)
            return
        why = _names.attr_problem(attr)
        if why:
            self.report(node, what, why)
            return
        if attr in _names.FORMAT_METHODS:
            self._format(node, attr)

    def _format(self, node: ast.Attribute, attr: str) -> None:
        target = node.value
        if isinstance(target, ast.Constant) and isinstance(target.value, str):
            why = _names.format_template_problem(target.value)
            if why:
                self.report(node, f"the template of .{attr}", why)
        elif isinstance(target, ast.Name) and target.id in ("str", "bytes"):
            self.report(node, f"{target.id}.{attr}", "call .format on a string template")

    # -- imports --------------------------------------------------------------
    def _Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module(node, alias.name)
            if alias.asname:
                self._name(node, _names.normalise(alias.asname), "the name")
            elif _names.name_problem(alias.name.split(".")[0]):
                self._name(node, alias.name.split(".")[0], "the name")

    def _module(self, node: ast.AST, path: str) -> bool:
        path = _names.normalise(path)
        if path == "__future__" or path not in POLICIES:
            self.report(
                node,
                f"import {path}",
                f"strategies may import only {', '.join(ALLOWED_MODULES)}",
            )
            return False
        return True

    def _ImportFrom(self, node: ast.ImportFrom) -> None:
        module = _names.normalise(node.module or "")
        if node.level:
            self.report(node, "a relative import", "import from the allowed modules by their full name")
            return
        if module == "__future__":
            for alias in node.names:
                if alias.name != "annotations" or alias.asname:
                    what = f"from __future__ import {alias.name}"
                    self.report(node, what, "only annotations is allowed")
            return
        if not self._module(node, module):
            return
        available = public_names(module)
        for alias in node.names:
            name = _names.normalise(alias.name)
            if name == "*":
                self.report(node, f"from {module} import *", "import the names you use, one by one")
            elif name not in available:
                self.report(
                    node,
                    f"from {module} import {name}",
                    f"{module}.{name} is not available to strategies",
                )
            self._name(node, _names.normalise(alias.asname or name), "the name")

    # -- constants and expressions ---------------------------------------------
    def _Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _DUNDER_STRING.match(node.value):
            why = "strings naming Python's internals are refused"
            self.report(node, f"the string {node.value!r}", why)
            return
        try:
            fold(node)
        except TooBig as exc:
            self.report(node, "a literal", f"is too big: {exc}")

    def _BinOp(self, node: ast.BinOp) -> None:
        if isinstance(self.up.get(node), (ast.BinOp, ast.UnaryOp)):
            return  # the outermost arithmetic expression folds its parts
        try:
            fold(node)
        except TooBig as exc:
            self.report(node, "a constant expression", f"is too big: {exc}")

    _UnaryOp = _BinOp  # type: ignore[assignment]


def check_nodes(tree: ast.Module) -> list[Problem]:
    """Every problem the node rules find in ``tree``."""
    return NodeRules(tree).run()
