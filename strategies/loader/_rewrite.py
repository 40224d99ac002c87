"""Rewrite a checked syntax tree so every attribute access goes through the guards."""

from __future__ import annotations

import ast

from strategies.loader._guard import READ, WRITE


class _Guarded(ast.NodeTransformer):
    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            call = ast.Call(
                func=ast.Name(READ, ast.Load()),
                args=[node.value, ast.Constant(node.attr)],
                keywords=[],
            )
            return ast.copy_location(call, node)
        target = ast.Call(func=ast.Name(WRITE, ast.Load()), args=[node.value], keywords=[])
        node.value = ast.copy_location(target, node.value)
        return node


def guarded(tree: ast.Module) -> ast.Module:
    """``tree`` with ``a.b`` read as ``__anvil_read__(a, "b")`` and written as
    ``__anvil_write__(a).b`` (changes ``tree`` in place and returns it)."""
    out = _Guarded().visit(tree)
    return ast.fix_missing_locations(out)
