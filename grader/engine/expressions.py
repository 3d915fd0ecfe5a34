"""Expressions as plain data: a whitelisted tree, its encoder and its evaluators.

A sympy expression crosses the sandbox boundary as a JSON tree of nested lists
``[head, *children]``. Leaves are ``["Symbol", name]``, ``["Integer", digits]``,
``["Rational", p, q]``, ``["Float", repr]``, ``["Constant", "pi" | "E"]``,
``["BooleanTrue"]`` and ``["BooleanFalse"]``; every other head is an operation of
:data:`OPERATIONS`. ``Sum`` and ``Product`` children are the body followed by
``["Limits", variable, lower, upper]`` nodes.

The trusted side never turns such a tree back into code: :func:`validate_tree` checks its
shape against the whitelist and the size caps, and :func:`evaluate` computes its value at a
point with plain float arithmetic or with 50-digit mpmath arithmetic. Nothing is ever
``eval``-ed, ``sympify``-ed or parsed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Mapping

import mpmath

#: Operations and how many children each takes: (minimum, maximum or None for any).
OPERATIONS: Mapping[str, tuple[int, int | None]] = {
    "Add": (1, None), "Mul": (1, None), "Pow": (2, 2),
    "Abs": (1, 1), "sign": (1, 1), "exp": (1, 1), "log": (1, 1),
    "Max": (1, None), "Min": (1, None), "Heaviside": (1, 2),
    "floor": (1, 1), "ceiling": (1, 1),
    "Piecewise": (1, None), "ExprCondPair": (2, 2),
    "Equality": (2, 2), "Unequality": (2, 2),
    "StrictLessThan": (2, 2), "LessThan": (2, 2),
    "StrictGreaterThan": (2, 2), "GreaterThan": (2, 2),
    "And": (1, None), "Or": (1, None), "Not": (1, 1),
    "Sum": (2, None), "Product": (2, None), "Limits": (3, 3),
    "UnevaluatedExpr": (1, 1),
}
#: Nodes that only hold an expression unevaluated: their value is their argument's.
TRANSPARENT = frozenset({"UnevaluatedExpr"})
LEAVES = frozenset({"Symbol", "Integer", "Rational", "Float", "Constant",
                    "BooleanTrue", "BooleanFalse"})
CONSTANTS = frozenset({"pi", "E"})

MAX_NODES = 5000
MAX_DEPTH = 150
MAX_DIGITS = 60
MAX_NAME = 40
MAX_SUM_TERMS = 10_000
#: Node evaluations allowed for one value at one point (sums evaluate their body per term).
MAX_EVALUATIONS = 200_000
#: What one node evaluation costs in work units (see :class:`Work`), per arithmetic.
FLOAT_COST = 1
PRECISE_COST = 10

# sympy class name -> tree head, for classes whose name is not the head itself.
_SYMPY_HEADS = {
    "Dummy": "Symbol", "Zero": "Integer", "One": "Integer", "NegativeOne": "Integer",
    "IntegerConstant": "Integer", "Half": "Rational", "Pi": "Constant", "Exp1": "Constant",
    "BooleanTrue": "BooleanTrue", "BooleanFalse": "BooleanFalse",
}


class ExpressionError(ValueError):
    """A tree (or a sympy object) that is not an allowed expression; the message says why."""


class TooCostly(Exception):
    """Judging an expression would cost more than allowed; the message says why."""


class WorkExceeded(TooCostly):
    """A :class:`Work` budget is spent."""


class Work:
    """A budget of work units (node evaluations, weighted by arithmetic) for judging.

    :meth:`charge` adds to what was spent here and in every parent budget, and raises
    :class:`WorkExceeded` once any of them is over its limit. One budget belongs to one
    submission (or one answer of it) and one thread.
    """

    def __init__(self, limit: int, parent: "Work | None" = None, *, what: str = "this answer"):
        self.limit = int(limit)
        self.parent = parent
        self.what = what
        self.spent = 0

    def charge(self, units: int) -> None:
        work = self
        while work is not None:
            work.spent += units
            if work.spent > work.limit:
                raise WorkExceeded(f"judging {work.what} needs more than {work.limit:,} work units "
                                   "(the expression is too large or too costly to evaluate)")
            work = work.parent

    def child(self, limit: int, what: str) -> "Work":
        return Work(limit, self, what=what)


#: A budget that is never spent (callers that do not count their work).
def unlimited() -> Work:
    return Work(10**18, what="an expression")


# ---------------------------------------------------------------------------
# Encoding (sympy -> tree). Runs wherever the expression was built, student side included.
# ---------------------------------------------------------------------------

def encode_sympy(expr, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> list:
    """The tree of a sympy expression; :class:`ExpressionError` when it is not allowed."""
    budget = [max_nodes]

    def walk(node, depth: int) -> list:
        budget[0] -= 1
        if budget[0] < 0:
            raise ExpressionError(f"expression too large (more than {max_nodes} nodes)")
        if depth > max_depth:
            raise ExpressionError(f"expression nested too deeply (more than {max_depth} levels)")
        cls = type(node).__name__
        head = _SYMPY_HEADS.get(cls, cls)
        if head == "Symbol":
            return ["Symbol", str(node.name)]
        if head == "Integer":
            return ["Integer", str(int(node))]
        if head == "Rational":
            return ["Rational", str(int(node.p)), str(int(node.q))]
        if head == "Float":
            return ["Float", repr(float(node))]
        if head == "Constant":
            return ["Constant", "pi" if cls == "Pi" else "E"]
        if head in ("BooleanTrue", "BooleanFalse"):
            return [head]
        if head in ("Sum", "Product"):
            body, *limits = node.args
            return [head, walk(body, depth + 1)] + [
                ["Limits"] + [walk(part, depth + 2) for part in limit] for limit in limits]
        if head == "Tuple":
            raise ExpressionError("a tuple is not an expression")
        if head not in OPERATIONS:
            raise ExpressionError(f"unsupported expression node {cls!r}")
        return [head] + [walk(arg, depth + 1) for arg in node.args]

    tree = walk(expr, 0)
    validate_tree(tree, max_nodes=max_nodes, max_depth=max_depth)
    return tree


# ---------------------------------------------------------------------------
# Validation (trusted side): shape, whitelist and caps
# ---------------------------------------------------------------------------

def validate_tree(tree, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> int:
    """Check a tree received as plain data; returns its node count.

    Exact types only (``list`` and ``str``), whitelisted heads, the arity of each head,
    well-formed numbers, and caps on size, depth, digits and name length.
    """
    count = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > max_nodes:
            raise ExpressionError(f"expression too large (more than {max_nodes} nodes)")
        if depth > max_depth:
            raise ExpressionError(f"expression nested too deeply (more than {max_depth} levels)")
        if type(node) is not list or not node or type(node[0]) is not str:
            raise ExpressionError("malformed expression node")
        head, args = node[0], node[1:]
        if head in LEAVES:
            _validate_leaf(head, args)
            continue
        if head not in OPERATIONS:
            raise ExpressionError(f"unsupported expression node {head!r}")
        low, high = OPERATIONS[head]
        if len(args) < low or (high is not None and len(args) > high):
            raise ExpressionError(f"{head} with {len(args)} arguments")
        if head == "Piecewise" and any(type(a) is not list or not a or a[0] != "ExprCondPair"
                                       for a in args):
            raise ExpressionError("Piecewise arguments must be (expression, condition) pairs")
        if head in ("Sum", "Product"):
            for limit in args[1:]:
                if (type(limit) is not list or len(limit) != 4 or limit[0] != "Limits"
                        or type(limit[1]) is not list or limit[1][:1] != ["Symbol"]):
                    raise ExpressionError(f"{head} limits must be (symbol, lower, upper)")
            # each limit nests the body one level deeper when it is evaluated
            stack.append((args[0], depth + len(args) - 1))
            stack.extend((arg, depth + 1) for arg in args[1:])
            continue
        stack.extend((arg, depth + 1) for arg in args)
    return count


def _validate_leaf(head: str, args: list) -> None:
    if any(type(a) is not str for a in args):
        raise ExpressionError(f"malformed {head} node")
    if head == "Symbol":
        if len(args) != 1 or not args[0].isidentifier() or len(args[0]) > MAX_NAME:
            raise ExpressionError("malformed symbol name")
    elif head == "Integer":
        if len(args) != 1 or not _is_integer_text(args[0]):
            raise ExpressionError(f"malformed or too long integer (over {MAX_DIGITS} digits)")
    elif head == "Rational":
        if len(args) != 2 or not all(map(_is_integer_text, args)) or int(args[1]) <= 0:
            raise ExpressionError("malformed rational number")
    elif head == "Float":
        if len(args) != 1 or len(args[0]) > 40:
            raise ExpressionError("malformed float")
        try:
            value = float(args[0])
        except ValueError:
            raise ExpressionError("malformed float") from None
        if not math.isfinite(value):
            raise ExpressionError("invalid output: NaN or infinity inside the expression")
    elif head == "Constant":
        if len(args) != 1 or args[0] not in CONSTANTS:
            raise ExpressionError("unknown constant")
    elif args:
        raise ExpressionError(f"malformed {head} node")


def _is_integer_text(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return 0 < len(digits) <= MAX_DIGITS and digits.isascii() and digits.isdigit()


def free_symbols(tree) -> frozenset[str]:
    """Names of the symbols a tree uses, without the bound variables of sums and products."""
    head, args = tree[0], tree[1:]
    if head == "Symbol":
        return frozenset(args)
    if head in ("Sum", "Product"):
        names = set(free_symbols(args[0]))
        for _, var, low, high in reversed(args[1:]):
            names.discard(var[1])
            names |= free_symbols(low) | free_symbols(high)
        return frozenset(names)
    if head in LEAVES:
        return frozenset()
    return frozenset().union(*(free_symbols(a) for a in args))


def substitute(tree, replacements: Mapping[str, list]) -> list:
    """The tree with free symbols replaced by other trees (templates with placeholders)."""
    head, args = tree[0], tree[1:]
    if head == "Symbol":
        return replacements.get(args[0], tree)
    if head in LEAVES:
        return tree
    if head in ("Sum", "Product"):
        bound = {limit[1][1] for limit in args[1:]}
        inner = {k: v for k, v in replacements.items() if k not in bound}
        return [head, substitute(args[0], inner)] + [
            ["Limits", limit[1], substitute(limit[2], replacements), substitute(limit[3], replacements)]
            for limit in args[1:]]
    return [head] + [substitute(a, replacements) for a in args]


# ---------------------------------------------------------------------------
# Evaluation at a point, in float or in 50-digit arithmetic
# ---------------------------------------------------------------------------

class _Undefined(Exception):
    """The expression has no finite real value at this point."""


@dataclass(frozen=True)
class Arithmetic:
    """How numbers are made and the few functions that differ between float and mpmath."""

    number: Callable[[Fraction], object]
    float_text: Callable[[str], object]
    constant: Callable[[str], object]
    exp: Callable
    log: Callable
    floor: Callable
    ceiling: Callable
    finite: Callable[[object], bool]
    #: Work units per node evaluation.
    cost: int = FLOAT_COST


def _float_finite(x) -> bool:
    return isinstance(x, float) and math.isfinite(x)


FLOAT = Arithmetic(
    number=float,
    float_text=float,
    constant=lambda name: math.pi if name == "pi" else math.e,
    exp=math.exp, log=math.log, floor=math.floor, ceiling=math.ceil,
    finite=_float_finite,
)

_PRECISE_CONTEXT = mpmath.MPContext()
_PRECISE_CONTEXT.dps = 50
_PRECISE_LIMIT = _PRECISE_CONTEXT.mpf("1e300")


def _precise_finite(x) -> bool:
    return isinstance(x, type(_PRECISE_LIMIT)) and _PRECISE_CONTEXT.isfinite(x) and abs(x) < _PRECISE_LIMIT


PRECISE = Arithmetic(
    number=lambda q: _PRECISE_CONTEXT.mpf(q.numerator) / q.denominator,
    float_text=_PRECISE_CONTEXT.mpf,
    constant=lambda name: +_PRECISE_CONTEXT.pi if name == "pi" else +_PRECISE_CONTEXT.e,
    exp=_PRECISE_CONTEXT.exp, log=_PRECISE_CONTEXT.ln,
    floor=_PRECISE_CONTEXT.floor, ceiling=_PRECISE_CONTEXT.ceil,
    finite=_precise_finite, cost=PRECISE_COST,
)

_COMPARISONS = {
    "Equality": lambda a, b: a == b, "Unequality": lambda a, b: a != b,
    "StrictLessThan": lambda a, b: a < b, "LessThan": lambda a, b: a <= b,
    "StrictGreaterThan": lambda a, b: a > b, "GreaterThan": lambda a, b: a >= b,
}


def evaluate(tree, point: Mapping[str, object], arithmetic: Arithmetic = FLOAT, work: Work | None = None):
    """The value of ``tree`` at ``point`` (name -> number of ``arithmetic``'s kind).

    Returns a finite number, a bool for conditions, or ``None`` where the expression has no
    finite real value (division by zero, square root of a negative number, overflow, an
    unbound symbol, a Piecewise with no true condition, an unsupported sum range, more than
    :data:`MAX_EVALUATIONS` node evaluations). The nodes evaluated are charged to ``work``
    (which raises :class:`WorkExceeded` when it is spent); :class:`TooCostly` when the tree
    is nested too deeply to evaluate. To evaluate one tree at many points, build its
    :func:`evaluator` once.
    """
    return evaluator(tree, arithmetic)(point, work)


#: What makes a value undefined at a point rather than an error of the evaluator.
_CAUGHT = (_Undefined, ArithmeticError, ValueError, TypeError)


def evaluator(tree, arithmetic: Arithmetic = FLOAT) -> Callable[[Mapping[str, object], "Work | None"], object]:
    """``evaluate(tree, ., arithmetic, .)`` as a function of the point and the budget, with
    the tree turned once into nested closures (each node's operation and constant chosen
    when it is built rather than looked up at every point): the same values, the same
    ``None``s and the same work charged as evaluating the tree node by node."""
    try:
        compiled = _compile(tree, arithmetic)
    except RecursionError:
        compiled = None
    except (*_CAUGHT, IndexError, KeyError):  # not a tree at all (a validated tree never is)
        compiled = _constant(_no_value)

    def value_at(point: Mapping[str, object], work: Work | None = None):
        if compiled is None:
            raise TooCostly("the expression is nested too deeply to evaluate")
        budget = [MAX_EVALUATIONS]
        try:
            return compiled(point, budget)
        except _CAUGHT:
            return None
        except RecursionError:
            raise TooCostly("the expression is nested too deeply to evaluate") from None
        finally:
            if work is not None:
                work.charge((MAX_EVALUATIONS - max(budget[0], -1)) * arithmetic.cost)

    return value_at


def _number(value, arithmetic: Arithmetic):
    if type(value) is bool or not arithmetic.finite(value):
        raise _Undefined
    return value


def _compile(node, ar: Arithmetic):
    """A function ``(point, budget) -> value`` computing ``node``. Each call first spends one
    node evaluation of ``budget[0]`` (written out in every closure: this is the hot path)
    and, past the limit, stops as for any undefined value (nested sums can multiply the
    work); then its children spend theirs."""
    head, args = node[0], node[1:]
    if head == "Symbol":
        name = args[0]

        def symbol(point, budget):
            budget[0] -= 1
            if budget[0] < 0:
                raise _Undefined
            if name not in point:
                raise _Undefined
            return point[name]
        return symbol
    if head == "Integer":
        return _constant(lambda: ar.number(Fraction(int(args[0]))))
    if head == "Rational":
        return _constant(lambda: ar.number(Fraction(int(args[0]), int(args[1]))))
    if head == "Float":
        return _constant(lambda: ar.float_text(args[0]))
    if head == "Constant":
        return _constant(lambda: ar.constant(args[0]))
    if head == "BooleanTrue":
        return _constant(lambda: True)
    if head == "BooleanFalse":
        return _constant(lambda: False)
    if head in _COMPARISONS:
        compare = _COMPARISONS[head]
        left, right = (_compile(a, ar) for a in args)

        def comparison(point, budget):
            budget[0] -= 1
            if budget[0] < 0:
                raise _Undefined
            a = _number(left(point, budget), ar)
            return compare(a, _number(right(point, budget), ar))
        return comparison
    if head in ("And", "Or", "Not"):
        conditions = [_compile(a, ar) for a in args]
        if head == "Not":
            inner = conditions[0]

            def negation(point, budget):
                budget[0] -= 1
                if budget[0] < 0:
                    raise _Undefined
                return not _condition(inner(point, budget))
            return negation
        every = head == "And"

        def junction(point, budget):
            budget[0] -= 1
            if budget[0] < 0:
                raise _Undefined
            if every:
                return all(_condition(c(point, budget)) for c in conditions)
            return any(_condition(c(point, budget)) for c in conditions)
        return junction
    if head == "Piecewise":
        pieces = [(_compile(value, ar), _compile(condition, ar)) for _, value, condition in args]

        def piecewise(point, budget):
            budget[0] -= 1
            if budget[0] < 0:
                raise _Undefined
            for value, condition in pieces:
                if _condition(condition(point, budget)):
                    return value(point, budget)
            raise _Undefined
        return piecewise
    if head in ("Sum", "Product"):
        return _compile_sum(head, args[0], args[1:], ar)
    if head in TRANSPARENT:
        inner = _compile(args[0], ar)

        def transparent(point, budget):
            budget[0] -= 1
            if budget[0] < 0:
                raise _Undefined
            return inner(point, budget)
        return transparent
    children = [_compile(a, ar) for a in args]
    operation = _OPERATIONS.get(head, _no_operation)
    finite = ar.finite

    def apply(point, budget):
        budget[0] -= 1
        if budget[0] < 0:
            raise _Undefined
        values = []
        for child in children:
            value = child(point, budget)
            if type(value) is bool or not finite(value):
                raise _Undefined
            values.append(value)
        return _number(operation(values, ar), ar)
    return apply


def _constant(make):
    """A leaf: its value made once (or, where making it fails, the same failure at every point)."""
    try:
        value = make()
    except _CAUGHT:
        def undefined(point, budget):
            budget[0] -= 1
            if budget[0] < 0:
                raise _Undefined
            raise _Undefined
        return undefined

    def constant(point, budget):
        budget[0] -= 1
        if budget[0] < 0:
            raise _Undefined
        return value
    return constant


def _condition(value) -> bool:
    if type(value) is not bool:
        raise _Undefined
    return value


def _add(values: list, ar: Arithmetic):
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


def _mul(values: list, ar: Arithmetic):
    product = values[0]
    for v in values[1:]:
        product = product * v
    return product


def _pow(values: list, ar: Arithmetic):
    base, exponent = values
    if base == 0 and exponent < 0:
        raise _Undefined
    if base < 0 and exponent != ar.floor(exponent):
        raise _Undefined  # no real value
    if abs(exponent) > 1e6 and abs(base) != 1:
        raise _Undefined  # overflow or underflow of no interest here
    return base ** exponent


def _sign(values: list, ar: Arithmetic):
    x = values[0]
    return ar.number(Fraction((x > 0) - (x < 0)))


def _heaviside(values: list, ar: Arithmetic):
    x = values[0]
    if x == 0:
        return values[1] if len(values) > 1 else ar.number(Fraction(1, 2))
    return ar.number(Fraction(int(x > 0)))


def _exp(values: list, ar: Arithmetic):
    if values[0] > 700:
        raise _Undefined
    return ar.exp(values[0])


def _log(values: list, ar: Arithmetic):
    if values[0] <= 0:
        raise _Undefined
    return ar.log(values[0])


def _no_value():
    raise _Undefined


def _no_operation(values: list, ar: Arithmetic):
    raise _Undefined


_OPERATIONS: Mapping[str, Callable[[list, Arithmetic], object]] = {
    "Add": _add, "Mul": _mul, "Pow": _pow,
    "Abs": lambda values, ar: abs(values[0]),
    "sign": _sign, "Heaviside": _heaviside, "exp": _exp, "log": _log,
    "floor": lambda values, ar: ar.number(Fraction(int(ar.floor(values[0])))),
    "ceiling": lambda values, ar: ar.number(Fraction(int(ar.ceiling(values[0])))),
    "Max": lambda values, ar: max(values),
    "Min": lambda values, ar: min(values),
}


def _compile_sum(head: str, body, limits: list, ar: Arithmetic):
    """Finite sums and products with integer limits (sympy's Karr convention when reversed)."""
    (_, var, low_node, high_node), rest = limits[0], limits[1:]
    low_of, high_of = _compile(low_node, ar), _compile(high_node, ar)
    inner = _compile([head, body, *rest] if rest else body, ar)
    name = var[1]
    start = int(head == "Product")
    product = head == "Product"

    def total_of(point, budget):
        budget[0] -= 1
        if budget[0] < 0:
            raise _Undefined
        low, high = (_integer(bound(point, budget), ar) for bound in (low_of, high_of))
        sign = 1
        if high < low:  # sum_{a}^{b} = -sum_{b+1}^{a-1}; product_{a}^{b} = 1/product_{b+1}^{a-1}
            low, high, sign = high + 1, low - 1, -1
        if high - low + 1 > MAX_SUM_TERMS:
            raise _Undefined
        total = ar.number(Fraction(start))
        scope = dict(point)
        for k in range(low, high + 1):
            scope[name] = ar.number(Fraction(k))
            term = _number(inner(scope, budget), ar)
            total = total * term if product else total + term
        if sign < 0:
            total = 1 / total if product else -total
        return total
    return total_of


def _integer(value, ar: Arithmetic) -> int:
    value = _number(value, ar)
    whole = int(ar.floor(value + ar.number(Fraction(1, 2))))
    if abs(value - whole) > 1e-9:
        raise _Undefined
    return whole
