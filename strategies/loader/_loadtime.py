"""What may run while a strategy loads: imports, constants, functions and classes.

Loading a strategy executes its top level and its class bodies. So that loading
cannot do work (or harm) of its own, that code is held to declarations:

- top level: docstrings, imports, ``NAME = constant expression``, ``def``, ``class``;
- class bodies: docstrings, ``name = constant expression`` (``Int(10, low=2,
  high=100)`` included), ``def``, nested ``class``;
- a constant expression is literals, names, ``name.attribute`` (``np.nan``,
  ``Side.FLAT``), arithmetic (sizes checked), subscripts, lambdas, and calls of a few
  declaration factories
  (``Int``, ``Float``, ``Categorical``, ``field``, ``auto``, ``namedtuple``,
  ``float("nan")``, ``np.array([...])``, ``math.sqrt(252)``...) with constant arguments;
- decorators are ``staticmethod``, ``classmethod``, ``property`` (and its
  ``.setter``), ``abstractmethod``, ``functools.cache``/``lru_cache``/
  ``cached_property``/``total_ordering``, ``dataclass``, ``enum.unique``;
- default values are constant expressions; annotations are types (or anything,
  under ``from __future__ import annotations``, which keeps them unevaluated);
- class bases are names (``Strategy``, ``strategies.Strategy``, ``Generic[T]``).

A name counts as a factory or decorator only when it still means the imported or
built-in object: rebinding it at the top level or in the class body voids it.
This module also finds the classes that derive from ``Strategy``.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any

from strategies.loader._constants import UNKNOWN, TooBig, fold
from strategies.loader._errors import Problem
from strategies.loader._modules import POLICIES, public_names
from strategies.loader._rules import problem

_PARAMS = ("Int", "Float", "Categorical")
TRUSTED_CALLS = frozenset(
    [(m, n) for m in ("strategies", "strategies.params") for n in _PARAMS]
    + [("dataclasses", "field"), ("enum", "auto"), ("typing", "TypeVar"), ("typing", "NamedTuple")]
    + [("collections", "namedtuple")]
    + [("builtins", n) for n in "float int str bool tuple frozenset complex dict list set".split()]
    + [("builtins", n) for n in ("staticmethod", "classmethod", "property")]
    + [
        ("math", n)
        for n in """sqrt exp log log2 log10 log1p expm1 pow hypot floor ceil fabs
                                copysign sin cos tan atan atan2 radians degrees erf""".split()
    ]
    + [
        ("numpy", n)
        for n in """array asarray float64 float32 int64 int32 int16 int8 uint8 bool_
                                 dtype datetime64 timedelta64""".split()
    ]
)
"""Calls allowed while loading: declarations that build a value from their arguments."""

TRUSTED_DECORATORS = frozenset(
    [("builtins", n) for n in ("staticmethod", "classmethod", "property")]
    + [("abc", "abstractmethod"), ("dataclasses", "dataclass"), ("enum", "unique")]
    + [("functools", n) for n in ("cache", "lru_cache", "cached_property", "total_ordering")]
)
"""Decorators allowed on top-level and class-body functions and classes."""

PROPERTY_ACCESSORS = frozenset({"setter", "getter", "deleter"})
_REPEATS = (ast.Mult, ast.Pow, ast.LShift)
_SMALL_FACTOR = 1000
_LOADS = "runs code while the strategy loads"


@functools.lru_cache(maxsize=None)
def _strategy_bases() -> frozenset[tuple[str, str]]:
    """(module, name) of every Strategy class a strategy may derive from."""
    from strategies.base import Strategy

    out = set()
    for path in ("strategies", "strategies.base"):
        module = importlib.import_module(path)
        for name in public_names(path):
            value = getattr(module, name, None)
            if isinstance(value, type) and issubclass(value, Strategy):
                out.add((path, name))
    return frozenset(out)


@dataclass
class Scope:
    """Names bound where load-time code runs: the top level, or a class body over it."""

    imports: dict[str, tuple[str, str | None]]
    untrusted: set[str]
    constants: Any
    bound: set[str] = field(default_factory=set)
    properties: set[str] = field(default_factory=set)
    future_annotations: bool = False

    def inner(self, bound: set[str]) -> Scope:
        """The scope of a class body binding ``bound`` (it sees the top level, not outer classes)."""
        top = self.constants.maps[-1] if isinstance(self.constants, ChainMap) else self.constants
        constants = ChainMap({}, top)
        return Scope(self.imports, self.untrusted, constants, bound, set(), self.future_annotations)

    def module_of(self, node: ast.AST) -> str | None:
        """The module path an expression names (``np``, ``collections.abc``), if any."""
        if isinstance(node, ast.Name):
            if node.id in self.bound or node.id in self.untrusted:
                return None
            found = self.imports.get(node.id)
            return found[0] if found and found[1] is None and found[0] in POLICIES else None
        if isinstance(node, ast.Attribute):
            parent = self.module_of(node.value)
            if parent and f"{parent}.{node.attr}" in POLICIES:
                return f"{parent}.{node.attr}"
        return None

    def target_of(self, node: ast.AST) -> tuple[str, str] | None:
        """(module, name) of the object an expression names, if it still means an import or built-in."""
        if isinstance(node, ast.Name):
            if node.id in self.bound or node.id in self.untrusted:
                return None
            found = self.imports.get(node.id)
            if found is not None:
                return (found[0], found[1]) if found[1] is not None else None
            return ("builtins", node.id) if hasattr(builtins, node.id) else None
        if isinstance(node, ast.Attribute):
            module = self.module_of(node.value)
            return (module, node.attr) if module else None
        return None


def _bound_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _bound_names(e)]
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    return []


def _statement_bindings(body: list[ast.stmt]) -> list[str]:
    names: list[str] = []
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                names += _bound_names(t)
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            names += _bound_names(stmt.target)
        elif isinstance(stmt, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.append(stmt.name)
    return names


def _bound_anywhere(tree: ast.Module) -> set[str]:
    """Names bound below the top level (parameters, locals): they may shadow an import."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.Lambda, ast.ClassDef)):
            for inner in ast.walk(node):
                if inner is node:
                    continue
                if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                    out.add(inner.id)
                elif isinstance(inner, ast.arg):
                    out.add(inner.arg)
                elif isinstance(inner, (ast.FunctionDef, ast.ClassDef)):
                    out.add(inner.name)
                elif isinstance(inner, (ast.Import, ast.ImportFrom)):
                    out.update((a.asname or a.name).split(".")[0] for a in inner.names)
    return out


def _top_level_scope(tree: ast.Module) -> Scope:
    imports: dict[str, tuple[str, str | None]] = {}
    untrusted: set[str] = set()
    future = False

    def bind(name: str, what: tuple[str, str | None]) -> None:
        if imports.setdefault(name, what) != what:
            untrusted.add(name)  # two imports bind different things to one name

    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                name = alias.asname or alias.name.split(".")[0]
                bind(name, (alias.name if alias.asname else name, None))
        elif isinstance(stmt, ast.ImportFrom) and not stmt.level:
            if stmt.module == "__future__":
                future = future or any(a.name == "annotations" for a in stmt.names)
                continue
            for alias in stmt.names:
                sub = f"{stmt.module}.{alias.name}"
                what = (sub, None) if sub in POLICIES else (str(stmt.module), alias.name)
                bind(alias.asname or alias.name, what)
    untrusted.update(_statement_bindings(tree.body))
    return Scope(imports, untrusted, {}, future_annotations=future)


class LoadTimeRules:
    """Checks the code that runs while the strategy loads; ``problems`` collects what is refused."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.problems: list[Problem] = []
        self.scope = _top_level_scope(tree)
        self.strategy_classes: list[ast.ClassDef] = []

    def report(self, node: ast.AST, what: str, why: str) -> None:
        self.problems.append(problem(node, what, why))

    def run(self) -> list[Problem]:
        self._module_attributes()
        bases = _strategy_bases()
        strategies: set[str] = set()
        for stmt in self.tree.body:
            self._top_statement(stmt)
            if isinstance(stmt, ast.ClassDef):
                for base in stmt.bases:
                    if self.scope.target_of(base) in bases or (isinstance(base, ast.Name) and base.id in strategies):
                        strategies.add(stmt.name)
                        self.strategy_classes.append(stmt)
                        break
        return self.problems

    def _module_attributes(self) -> None:
        """``np.lib``, ``indicators.np``: names a module's view does not hold, wherever read."""
        elsewhere = _bound_anywhere(self.tree)
        scope = Scope(self.scope.imports, self.scope.untrusted | elsewhere, {})
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute) and not node.attr.startswith("_"):
                module = scope.module_of(node.value)
                if module is not None and node.attr not in public_names(module):
                    self.report(node, f"{module}.{node.attr}", "not available to strategies")

    # -- statements -------------------------------------------------------------
    def _top_statement(self, stmt: ast.stmt) -> None:
        scope = self.scope
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Pass)):
            return
        if isinstance(stmt, ast.Expr):
            if not isinstance(stmt.value, ast.Constant):
                self.report(stmt, "a top-level expression", f"{_LOADS}; move it into a method")
            return
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            self._assignment(stmt, scope, "top level")
            return
        if isinstance(stmt, ast.FunctionDef):
            self._function(stmt, scope)
            return
        if isinstance(stmt, ast.ClassDef):
            self._class(stmt, scope)
            return
        self.report(
            stmt,
            f"a top-level {type(stmt).__name__.lower()} statement",
            f"{_LOADS}; the top level holds only imports, constants, functions and classes",
        )

    def _assignment(self, stmt: ast.Assign | ast.AnnAssign, scope: Scope, where: str) -> None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            if not _bound_names(target) or any(
                not isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Starred, ast.Load, ast.Store))
                for n in ast.walk(target)
            ):
                self.report(target, f"an assignment at the {where}", "only plain names can be assigned here")
        if isinstance(stmt, ast.AnnAssign):
            self._annotation(stmt.annotation, scope)
        if stmt.value is None:
            return
        self._expr(stmt.value, scope)
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            self._remember(targets[0].id, stmt.value, scope)

    def _remember(self, name: str, value: ast.expr, scope: Scope) -> None:
        try:
            folded = fold(value, scope.constants)
        except TooBig:
            return  # reported by the node rules
        if folded is not UNKNOWN:
            scope.constants[name] = folded

    def _class(self, node: ast.ClassDef, outer: Scope) -> None:
        self._decorators(node, outer)
        for base in node.bases:
            if isinstance(base, ast.Starred):
                self.report(base, "a starred base class", "name the base classes")
            else:
                self._type_expr(base, outer, "a base class", "name the base class (no calls)")
        scope = outer.inner(set(_statement_bindings(node.body)))
        for stmt in node.body:
            if isinstance(stmt, ast.Pass):
                continue
            if isinstance(stmt, ast.Expr):
                if not isinstance(stmt.value, ast.Constant):
                    self.report(stmt, "an expression in a class body", f"{_LOADS}; move it into a method")
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                self._assignment(stmt, scope, "class body")
            elif isinstance(stmt, ast.FunctionDef):
                self._function(stmt, scope)
            elif isinstance(stmt, ast.ClassDef):
                self._class(stmt, scope)
            else:
                self.report(
                    stmt,
                    f"a {type(stmt).__name__.lower()} statement in a class body",
                    f"{_LOADS}; a class body holds only constants, declarations and methods",
                )

    def _function(self, node: ast.FunctionDef, scope: Scope) -> None:
        self._decorators(node, scope)
        self._arguments(node.args, scope)
        if not scope.future_annotations:
            for arg in _all_args(node.args):
                if arg.annotation is not None:
                    self._annotation(arg.annotation, scope)
            if node.returns is not None:
                self._annotation(node.returns, scope)

    def _arguments(self, args: ast.arguments, scope: Scope) -> None:
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self._expr(default, scope)

    def _decorators(self, node: ast.FunctionDef | ast.ClassDef, scope: Scope) -> None:
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if scope.target_of(target) in TRUSTED_DECORATORS:
                if isinstance(deco, ast.Call):
                    self._call_arguments(deco, scope)
                is_property = scope.target_of(target) == ("builtins", "property")
                if isinstance(node, ast.FunctionDef) and is_property:
                    scope.properties.add(node.name)
                continue
            if (
                isinstance(deco, ast.Attribute)
                and deco.attr in PROPERTY_ACCESSORS
                and isinstance(deco.value, ast.Name)
                and deco.value.id in scope.properties
            ):
                continue
            allowed = ", ".join(sorted(name for _module, name in TRUSTED_DECORATORS))
            self.report(deco, "the decorator", f"{_LOADS}; decorators are limited to {allowed}")

    # -- expressions ------------------------------------------------------------
    def _expr(self, node: ast.AST, scope: Scope) -> None:
        """A constant expression, as load-time code may hold."""
        if isinstance(node, (ast.Constant, ast.Name)):
            return
        if isinstance(node, ast.Attribute):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if not isinstance(root, ast.Name):
                self.report(node, f"reading .{node.attr}", f"{_LOADS}; only name.attribute can be read here")
            return
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            for elt in node.elts:
                self._expr(elt, scope)
            return
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if key is None:
                    self.report(value, "a ** in a dict", f"{_LOADS}; write the items out")
                else:
                    self._expr(key, scope)
                self._expr(value, scope)
            return
        if isinstance(node, ast.Starred):
            self.report(node, "a starred expression", f"{_LOADS}; write the items out")
            return
        if isinstance(node, ast.BinOp):
            self._expr(node.left, scope)
            self._expr(node.right, scope)
            self._repeat(node, scope)
            return
        if isinstance(node, (ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._expr(child, scope)
            return
        if isinstance(node, (ast.JoinedStr, ast.FormattedValue)):
            for child in ast.iter_child_nodes(node):
                self._expr(child, scope)
            return
        if isinstance(node, ast.Lambda):
            self._arguments(node.args, scope)
            return
        if isinstance(node, ast.Call):
            if scope.target_of(node.func) not in TRUSTED_CALLS:
                self.report(
                    node,
                    "a call",
                    f"{_LOADS}; only declarations (Int, Float, Categorical, field, auto, namedtuple, "
                    "float, tuple, np.array, math.sqrt...) can be called here, with constant arguments",
                )
                return
            self._call_arguments(node, scope)
            return
        self.report(node, f"a {type(node).__name__} expression", f"{_LOADS}; compute it inside a method")

    def _call_arguments(self, node: ast.Call, scope: Scope) -> None:
        for arg in node.args:
            self._expr(arg, scope)
        for kw in node.keywords:
            if kw.arg is None:
                self.report(kw, "a ** argument", f"{_LOADS}; pass the arguments by name")
            self._expr(kw.value, scope)

    def _repeat(self, node: ast.BinOp, scope: Scope) -> None:
        """``x * 10 ** 6`` with ``x`` unknown could build a huge sequence while loading."""
        if not isinstance(node.op, _REPEATS):
            return
        try:
            left, right = fold(node.left, scope.constants), fold(node.right, scope.constants)
        except TooBig:
            return
        for unknown, factor in ((left, right), (right, left)):
            if unknown is UNKNOWN and isinstance(factor, int) and abs(factor) > _SMALL_FACTOR:
                self.report(
                    node,
                    "a constant expression",
                    f"{_LOADS} with a factor of {factor} and an operand of unknown size; "
                    "write the value out or compute it in a method",
                )
                return

    def _annotation(self, node: ast.AST, scope: Scope) -> None:
        if scope.future_annotations:
            return
        self._type_expr(
            node,
            scope,
            "an annotation",
            "annotations are evaluated while loading; use plain types or add 'from __future__ import annotations'",
        )

    def _type_expr(self, node: ast.AST, scope: Scope, what: str, why: str) -> None:
        ok = (ast.Name, ast.Attribute, ast.Subscript, ast.Constant, ast.Tuple, ast.List, ast.Load, ast.BitOr, ast.Slice)
        for sub in ast.walk(node):
            if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.BitOr):
                continue
            if not isinstance(sub, ok):
                self.report(sub, what, why)
                return


def _all_args(args: ast.arguments) -> list[ast.arg]:
    out = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    out += [a for a in (args.vararg, args.kwarg) if a is not None]
    return out


def check_load_time(tree: ast.Module) -> tuple[list[Problem], list[ast.ClassDef]]:
    """Problems in the code that runs while loading, and the top-level classes deriving from Strategy."""
    rules = LoadTimeRules(tree)
    problems = rules.run()
    return problems, rules.strategy_classes
