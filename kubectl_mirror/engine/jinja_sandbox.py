"""Jinja2 for transform templates, locked down so a hostile or careless template cannot escape or
hang the process.

Templates come from annotations anyone with write access to a source can set, and they run inside
`kubectl mirror`, a KRM function and a controller. Jinja's ImmutableSandboxedEnvironment blocks
`__class__`-style escapes but not runaway work, so on top of it:

- only a handful of attributes are reachable (safe `str` methods, `dict.get/keys/values/items`,
  `loop.*`); everything else is "unsafe";
- no loader (no `import`/`include`/`extends`), no globals but a budgeted `range`, and exactly the
  filters the spec lists;
- every loop iteration, call, operator and container is charged to a per-render budget: a step
  count (deterministic: it stops `range(10**5)` nested twice even with a frozen clock), a call
  depth, the injected clock against `template_time_budget_ms`, and the size of every value and of
  all text produced (so `'x' * 10**9`, `10**10**10` and doubling tricks are refused before they
  allocate).

The template AST is rewritten after parsing (For/Output/Concat/literal nodes go through the
budget) using only public Jinja API (`Environment.parse`, `nodes`, `from_string(ast)`).
This module imports jinja2 at import time; `transforms` imports it only when a rule needs it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable, ItemsView, KeysView, Mapping, Sequence, ValuesView
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from kubectl_mirror.engine.budget import BudgetError, Deadline
from kubectl_mirror.engine.model import EngineOptions
from kubectl_mirror.engine.textcap import bounded_replace
from kubectl_mirror.errors import TransformError

# Not an identifier, so no template can name it.
_BUDGET_KEY = "kubectl-mirror:budget"
DEFAULT_STEP_BUDGET = 100_000
MAX_CALL_DEPTH = 40
MAX_INT_BITS = 4096
# All text produced while rendering (macro bodies, `set` blocks, output) may be this many times
# the output limit: generous for real templates, fatal to a loop that builds gigabytes in a macro.
WORK_FACTOR = 16

_SAFE_ATTRIBUTES: tuple[tuple[type, frozenset[str]], ...] = (
    (
        str,
        frozenset(
            {
                *("upper", "lower", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines"),
                *("startswith", "endswith", "count", "find", "rfind", "removeprefix"),
                *("removesuffix", "partition", "rpartition", "title", "capitalize", "casefold"),
                *("swapcase", "isalnum", "isalpha", "isdigit", "isdecimal", "isnumeric"),
                *("islower", "isupper", "isspace"),
            }
        ),
    ),
    (dict, frozenset({"get", "keys", "values", "items"})),
    (list, frozenset({"count", "index"})),
    (tuple, frozenset({"count", "index"})),
    (
        LoopContext,
        frozenset(
            {
                *("index", "index0", "revindex", "revindex0", "first", "last", "length"),
                *("depth", "depth0", "previtem", "nextitem", "cycle", "changed"),
            }
        ),
    ),
)
_CONTAINERS = (list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)
_LOADER_TAGS: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.Extends, "extends"),
    (nodes.Include, "include"),
    (nodes.Import, "import"),
    (nodes.FromImport, "from ... import"),
)


class _Stop(Exception):
    """A budget or rule violation; its text becomes the TransformError message."""


@dataclass
class _Budget:
    """Per-render counters; created by render_jinja, reachable only through the render context."""

    step_budget: int
    steps_left: int
    clock: Callable[[], float]
    deadline: float
    time_budget_ms: int
    max_output: int
    outer: Deadline | None = None  # the source's (or the run's), when it comes before ours
    depth: int = 0
    produced: int = 0

    def tick(self, steps: int = 1) -> None:
        self.steps_left -= steps
        if self.steps_left < 0:
            raise _Stop(
                f"template exceeded its step budget of {self.step_budget} steps "
                "(a loop, range or recursion is too large)"
            )
        if self.clock() > self.deadline:
            if self.outer is not None and self.deadline >= self.outer.at:
                raise BudgetError(self.outer.reason)
            raise _Stop(f"template exceeded its time budget of {self.time_budget_ms} ms")

    def weigh(self, value: Any) -> int:
        """About how many characters `value` prints as; _Stop once over the output limit."""
        total = 0
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                total += len(item)
            elif isinstance(item, dict):
                self.tick(len(item))
                stack.extend(item.keys())
                stack.extend(item.values())
                total += 2
            elif isinstance(item, _CONTAINERS):
                self.tick(len(item))
                stack.extend(item)
                total += 2
            else:
                total += 8
            if total > self.max_output:
                raise _Stop(f"template value is larger than the {self.max_output}-byte output limit")
        return total

    def check_quick(self, value: Any) -> None:
        if isinstance(value, str | bytes | list | tuple | dict) and len(value) > self.max_output:
            raise _Stop(f"template value is larger than the {self.max_output}-byte output limit")

    def produce(self, text: str) -> str:
        self.produced += len(text)
        if self.produced > self.max_output * WORK_FACTOR:
            raise _Stop(
                f"template produced more than {self.max_output * WORK_FACTOR} characters "
                "while rendering (a loop builds too much text)"
            )
        return text


def _budget(context: Context) -> _Budget:
    budget = context.get(_BUDGET_KEY)
    if not isinstance(budget, _Budget):
        raise SecurityError("template rendered without a budget")
    return budget


def _text(budget: _Budget, value: Any) -> str:
    """`value` as text, refusing objects whose text would be a Python repr or unbounded."""
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined raises here, naming the missing variable
    if value is None or isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, list | tuple | dict):
        budget.weigh(value)
        return str(value)
    raise _Stop(f"cannot turn a {type(value).__name__} into text")


# --- functions the rewritten AST calls (through the sandbox's `call`) ---------------------------


@pass_context
def _guard_iter(context: Context, iterable: Any) -> Any:
    budget = _budget(context)

    def counted() -> Any:
        for item in iterable:
            budget.tick()
            yield item

    return counted()


@pass_context
def _out(context: Context, value: Any) -> str:
    budget = _budget(context)
    return budget.produce(_text(budget, value))


@pass_context
def _concat(context: Context, *parts: Any) -> str:
    budget = _budget(context)
    texts = [_text(budget, p) for p in parts]
    if sum(map(len, texts)) > budget.max_output:
        raise _Stop(f"'~' would build a string over the {budget.max_output}-byte output limit")
    return "".join(texts)


@pass_context
def _list(context: Context, *items: Any) -> list[Any]:
    _budget(context).weigh(items)
    return list(items)


@pass_context
def _tuple(context: Context, *items: Any) -> tuple[Any, ...]:
    _budget(context).weigh(items)
    return items


@pass_context
def _dict(context: Context, *pairs: Any) -> dict[Any, Any]:
    out = dict(zip(pairs[::2], pairs[1::2], strict=True))
    _budget(context).weigh(out)
    return out


@pass_context
def _range(context: Context, *args: Any) -> range:
    budget = _budget(context)
    if not all(isinstance(a, int) for a in args):
        raise _Stop("range() takes integers")
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = budget.steps_left + 1
    if size > budget.steps_left:
        raise _Stop(f"range() of {size} items exceeds the step budget of {budget.step_budget}")
    return numbers


# --- filters: exactly the ones the spec lists, each bounded -------------------------------------


def _filter(fn: Callable[..., Any]) -> Callable[..., Any]:
    @pass_context
    def bounded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget(context)
        budget.tick()
        result = fn(budget, value, *args, **kwargs)
        budget.check_quick(result)
        return result

    return bounded


def _replace(budget: _Budget, value: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old_t, new_t = (_text(budget, v) for v in (value, old, new))
    return bounded_replace(text, old_t, new_t, limit=budget.max_output, count=-1 if count is None else count)


def _default(budget: _Budget, value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    if isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


def _b64dec(budget: _Budget, value: Any) -> str:
    try:
        return base64.b64decode(_text(budget, value), validate=True).decode("utf-8")
    except ValueError as err:  # binascii.Error, UnicodeDecodeError, non-ASCII input
        # Not the error's own text: a UnicodeDecodeError quotes a byte of the input.
        raise _Stop("b64dec: input is not base64 of UTF-8 text") from err


FILTERS: Mapping[str, Callable[..., Any]] = {
    "upper": _filter(lambda b, v: _text(b, v).upper()),
    "lower": _filter(lambda b, v: _text(b, v).lower()),
    "replace": _filter(_replace),
    "trim_prefix": _filter(lambda b, v, p: _text(b, v).removeprefix(_text(b, p))),
    "trim_suffix": _filter(lambda b, v, s: _text(b, v).removesuffix(_text(b, s))),
    "default": _filter(_default),
    "b64enc": _filter(lambda b, v: base64.b64encode(_text(b, v).encode()).decode("ascii")),
    "b64dec": _filter(_b64dec),
    "sha256": _filter(lambda b, v: hashlib.sha256(_text(b, v).encode()).hexdigest()),
    # Like Helm's `quote`: a double-quoted, escaped string.
    "quote": _filter(lambda b, v: json.dumps(_text(b, v), ensure_ascii=False)),
}


# --- the environment ----------------------------------------------------------------------------


def _allowed_attribute(obj: Any, attr: str) -> bool:
    return any(isinstance(obj, typ) and attr in names for typ, names in _SAFE_ATTRIBUTES)


def _check_binop(budget: _Budget, operator: str, left: Any, right: Any) -> None:
    budget.tick()
    if operator == "%" and isinstance(left, str):
        raise _Stop("string formatting with '%' is not allowed; use '~' and filters")
    if isinstance(left, int) and isinstance(right, int):
        bits = left.bit_length() * right if operator == "**" and abs(left) > 1 else 0
        if operator == "*":
            bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS:
            raise _Stop(f"'{operator}' would create a number over {MAX_INT_BITS} bits")
        return
    if operator == "*" and (isinstance(left, int) or isinstance(right, int)):
        seq, times = (right, left) if isinstance(left, int) else (left, right)
        if isinstance(times, int) and times > 1 and budget.weigh(seq) * times > budget.max_output:
            raise _Stop(f"'*' would build a value over the {budget.max_output}-byte output limit")
    if (
        operator == "+"
        and not isinstance(left, int | float)
        and budget.weigh(left) + budget.weigh(right) > budget.max_output
    ):
        raise _Stop(f"'+' would build a value over the {budget.max_output}-byte output limit")


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})
    km_iter = staticmethod(_guard_iter)
    km_out = staticmethod(_out)
    km_concat = staticmethod(_concat)
    km_list = staticmethod(_list)
    km_tuple = staticmethod(_tuple)
    km_dict = staticmethod(_dict)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return _allowed_attribute(obj, attr) and super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        # Jinja hands out a "sandboxed" str.format, but padding (`{:>999999999}`) still allocates
        # without limit; returning None leaves `format` to is_safe_attribute, which refuses it.
        return None

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _budget(context)
        budget.tick()
        if obj is not _guard_iter:
            for arg in (*args, *kwargs.values()):
                budget.check_quick(arg)
        budget.depth += 1
        try:
            if budget.depth > MAX_CALL_DEPTH:
                raise _Stop(f"template recursion too deep (more than {MAX_CALL_DEPTH} nested calls)")
            result = super().call(context, obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        budget.check_quick(result)
        return result

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(_budget(context), operator, left, right)
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=1)
def _environment() -> _Environment:
    env = _Environment(autoescape=False, undefined=StrictUndefined, loader=None, cache_size=0)
    env.filters = dict(FILTERS)
    env.globals = {"range": _range}
    return env


def _call(name: str, args: Sequence[nodes.Node], like: nodes.Node, env: _Environment) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(name), list(args), [], None, None)
    call.set_lineno(like.lineno)
    call.set_environment(env)
    return call


class _Rewrite(NodeTransformer):
    """Route loops, output, `~` and container literals through the budgeted functions."""

    def __init__(self, env: _Environment) -> None:
        self.env = env

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _call("km_iter", [node.iter], node, self.env)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [_call("km_out", [child], child, self.env) for child in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _call("km_concat", list(node.nodes), node, self.env)

    def visit_List(self, node: nodes.List) -> nodes.Node:
        self.generic_visit(node)
        return _call("km_list", list(node.items), node, self.env)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        if node.ctx != "load":
            return node
        return _call("km_tuple", list(node.items), node, self.env)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        flat = [part for pair in node.items for part in (pair.key, pair.value)]
        return _call("km_dict", flat, node, self.env)


@lru_cache(maxsize=256)
def compile_jinja(text: str) -> Template:
    """Parse, vet and compile `text`; TransformError says what is wrong with it."""
    env = _environment()
    try:
        ast = env.parse(text)
        for node_type, tag in _LOADER_TAGS:
            if ast.find(node_type) is not None:
                raise TransformError(f"unsafe template: {{% {tag} %}} is not allowed")
        _check_constants(ast)
        _Rewrite(env).visit(ast)
        return env.from_string(ast)
    except TemplateSyntaxError as err:
        raise TransformError(f"template syntax error on line {err.lineno}: {err.message}") from err
    except (RecursionError, SyntaxError, MemoryError) as err:
        # Jinja's parser and Python's compiler both give up on deep nesting, each its own way
        # (RecursionError; SyntaxError "too many nested parentheses"; IndentationError).
        raise TransformError("template is nested too deeply") from err
    except ValueError as err:  # e.g. an integer literal over Python's 4,300-digit limit
        raise TransformError("template holds a value too large to compile (a number too long?)") from err


def _check_constants(ast: nodes.Template) -> None:
    """Literals the compiled template could not hold: `1e999` compiles to the name `inf`."""
    for const in ast.find_all(nodes.Const):
        value = const.value
        if isinstance(value, float) and not math.isfinite(value):
            raise TransformError("template holds a number out of range")
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise TransformError(f"template holds a number over {MAX_INT_BITS} bits")


def render_jinja(
    template: Template,
    variables: Mapping[str, Any],
    *,
    options: EngineOptions,
    step_budget: int = DEFAULT_STEP_BUDGET,
    deadline: Deadline | None = None,
    quote_errors: bool = True,
) -> str:
    """Render within the limits of `options` (and before `deadline`, the source's); every failure
    is one TransformError, a BudgetError when `deadline` passed. With `quote_errors` False (the
    variables hold Secret data) the texts of Jinja's and Python's errors, which can quote a value
    (`'str object' has no attribute 'hunter2'`), are replaced by their type."""
    limits = options.limits
    clock = options.host.clock
    own = clock() + limits.template_time_budget_ms / 1000
    budget = _Budget(
        step_budget=step_budget,
        steps_left=step_budget,
        clock=clock,
        deadline=own if deadline is None else min(own, deadline.at),
        time_budget_ms=limits.template_time_budget_ms,
        max_output=limits.max_template_output,
        outer=deadline,
    )
    chunks: list[str] = []
    size = 0
    try:
        for chunk in template.generate({**variables, _BUDGET_KEY: budget}):
            size += len(chunk.encode())
            if size > limits.max_template_output:
                raise _Stop(f"template output exceeds {limits.max_template_output} bytes")
            chunks.append(chunk)
    except _Stop as err:
        raise TransformError(str(err)) from err
    except RecursionError as err:
        raise TransformError("template recursion too deep") from err
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as err:
        raise TransformError(_failure(err, quote=quote_errors)) from err
    return "".join(chunks)


def _failure(err: Exception, *, quote: bool) -> str:
    what = ""
    if isinstance(err, SecurityError):
        what = "unsafe template"
    elif isinstance(err, UndefinedError):
        what = "template error"
    if not quote:
        hidden = "its message is not shown, as it could quote a value of the Secret"
        return f"{what or 'template failed'}: {type(err).__name__} ({hidden})"
    text = " ".join(str(err).split())
    return f"{what}: {text}" if what else f"template failed: {type(err).__name__}: {text}"
