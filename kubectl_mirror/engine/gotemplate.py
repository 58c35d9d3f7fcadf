"""The subset of Go's text/template that KubeMirror's transform templates use.

KubeMirror (github.com/lukaszraczylo/kubemirror, pkg/transformer) renders rule templates with Go's
text/template, a data struct {TargetNamespace, SourceNamespace, SourceName, TargetName, Labels,
Annotations} and the functions upper, lower, replace, trimPrefix, trimSuffix, hasPrefix,
hasSuffix and default (README "Template Variables/Functions", pkg/transformer/design.md). Sources
written for it must keep rendering the same text here, so this module interprets exactly that:

- text and `{{ pipeline }}` actions, `{{-`/`-}}` whitespace trimming, `{{/* comments */}}`;
- `{{if}} {{else if}} {{else}} {{end}}` (design.md's examples use them);
- pipelines: fields `.X.Y`, string (`"..."`, `` `...` ``), boolean and integer literals,
  function calls, `( ... )` groups and `|`;
- besides KubeMirror's functions, the text/template builtins that make `if` useful: `eq`, `ne`,
  `not`, `and`, `or`, `index`.

Anything else (`range`, `with`, `$variables`, `printf`, unknown fields...) is refused with a
message that names it, rather than guessed at. There are no loops, so rendering is linear in the
template; output size is still capped because `replace` can multiply text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kubectl_mirror.engine.model import EngineOptions
from kubectl_mirror.engine.textcap import bounded_replace
from kubectl_mirror.errors import TransformError

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_INT = re.compile(r"-?[0-9]+")
_CONTROL = {"if", "else", "end"}
_UNSUPPORTED_ACTIONS = {"range", "with", "define", "template", "block", "break", "continue"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
# Go's integers are 64-bit; deeper nesting than this is no template anyone writes, and the parser
# and evaluator recurse once per level.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
MAX_NESTING = 100


class _NoValue:
    """What Go yields for a missing map key: prints as `<no value>`, counts as nil."""

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE: Any = _NoValue()


@dataclass(frozen=True)
class _Tok:
    kind: str  # field, dot, str, int, bool, ident, lparen, rparen, pipe
    value: Any = None


@dataclass(frozen=True)
class _Field:
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Lit:
    value: Any


@dataclass(frozen=True)
class _Func:
    name: str


@dataclass(frozen=True)
class _Group:
    pipe: Pipe


Operand = _Field | _Lit | _Func | _Group
Pipe = tuple[tuple[Operand, ...], ...]


@dataclass(frozen=True)
class _Action:
    pipe: Pipe


@dataclass(frozen=True)
class _If:
    branches: tuple[tuple[Pipe, tuple[Node, ...]], ...]
    otherwise: tuple[Node, ...]


Node = str | _Action | _If


@dataclass(frozen=True)
class GoTemplate:
    """A parsed template; immutable, so it can be cached and shared between renders."""

    source: str
    nodes: tuple[Node, ...]


def _fail(message: str) -> TransformError:
    return TransformError(message)


# --- lexing -------------------------------------------------------------------------------------


def _split(text: str) -> list[str | list[_Tok]]:
    """Text pieces and token lists of actions, with `{{-`/`-}}` trimming already applied."""
    pieces: list[str | list[_Tok]] = []
    i = 0
    trim_next = False
    while True:
        start = text.find("{{", i)
        chunk = text[i:] if start < 0 else text[i:start]
        if trim_next:
            chunk = chunk.lstrip()
        if start < 0:
            pieces.append(chunk)
            return pieces
        j = start + 2
        if text.startswith("-", j) and j + 1 < len(text) and text[j + 1].isspace():
            chunk = chunk.rstrip()
            j += 2
        pieces.append(chunk)
        tokens, i, trim_next = _lex_action(text, j)
        if tokens is not None:
            pieces.append(tokens)


def _lex_action(text: str, i: int) -> tuple[list[_Tok] | None, int, bool]:
    """Tokens of the action starting at `i`, the index after its `}}`, and its `-}}` flag."""
    while i < len(text) and text[i].isspace():
        i += 1
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        if end < 0:
            raise _fail("unclosed comment")
        close, trim = _close_at(text, end + 2)
        if close < 0:
            raise _fail("comment must be followed directly by '}}'")
        return None, close, trim
    tokens: list[_Tok] = []
    while True:
        close, trim = _close_at(text, i)
        if close >= 0:
            return tokens, close, trim
        if i >= len(text):
            raise _fail("unclosed action: missing '}}'")
        if text[i].isspace():
            i += 1
            continue
        tok, i = _token(text, i)
        tokens.append(tok)


def _close_at(text: str, i: int) -> tuple[int, bool]:
    """If an action closes at `i` (`}}` or ` -}}`), the index after it and the trim flag."""
    if text.startswith("}}", i):
        return i + 2, False
    if i < len(text) and text[i].isspace():
        j = i
        while j < len(text) and text[j].isspace():
            j += 1
        if text.startswith("-}}", j):
            return j + 3, True
    return -1, False


def _token(text: str, i: int) -> tuple[_Tok, int]:
    ch = text[i]
    simple = {"(": "lparen", ")": "rparen", "|": "pipe"}
    if ch in simple:
        return _Tok(simple[ch]), i + 1
    if ch == '"':
        return _string(text, i)
    if ch == "`":
        end = text.find("`", i + 1)
        if end < 0:
            raise _fail("unclosed raw string")
        return _Tok("str", text[i + 1 : end]), end + 1
    if m := _FIELD.match(text, i):
        return _Tok("field", tuple(m.group()[1:].split("."))), m.end()
    if ch == ".":
        return _Tok("dot"), i + 1
    if m := _INT.match(text, i):
        digits = m.group()
        if len(digits.lstrip("-")) > 19 or not _INT_MIN <= int(digits) <= _INT_MAX:
            raise _fail("integer constant out of range (Go templates use 64-bit integers)")
        return _Tok("int", int(digits)), m.end()
    if m := _IDENT.match(text, i):
        word = m.group()
        if word in ("true", "false"):
            return _Tok("bool", word == "true"), m.end()
        if word == "nil":
            raise _fail("nil is not supported")
        return _Tok("ident", word), m.end()
    if ch == "$":
        raise _fail("template variables ($...) are not supported")
    raise _fail(f"unexpected {ch!r} in action")


def _string(text: str, i: int) -> tuple[_Tok, int]:
    out: list[str] = []
    j = i + 1
    while j < len(text) and text[j] not in '"\n':
        if text[j] == "\\":
            esc = text[j + 1 : j + 2]
            if esc not in _ESCAPES:
                raise _fail(f"unsupported escape \\{esc} in string")
            out.append(_ESCAPES[esc])
            j += 2
            continue
        out.append(text[j])
        j += 1
    if j >= len(text) or text[j] != '"':
        raise _fail("unterminated string")
    return _Tok("str", "".join(out)), j + 1


# --- parsing ------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def compile_go_template(text: str) -> GoTemplate:
    """Parse `text`; TransformError names the first construct that is wrong or unsupported."""
    stack: list[tuple[list[Node], list[tuple[Pipe, list[Node]]] | None]] = [([], None)]
    for piece in _split(text):
        body = stack[-1][0]
        if isinstance(piece, str):
            if piece:
                body.append(piece)
            continue
        if not piece:
            raise _fail("empty action {{}}")
        head = piece[0].value if piece[0].kind == "ident" else None
        if head in _UNSUPPORTED_ACTIONS:
            raise _fail(f"'{{{{{head}}}}}' is not supported (only if/else/end)")
        if head not in _CONTROL:
            body.append(_Action(_pipeline(piece)))
        elif head == "if":
            if len(stack) > MAX_NESTING:
                raise _fail(f"{{{{if}}}} nested more than {MAX_NESTING} deep")
            branches: list[tuple[Pipe, list[Node]]] = [(_pipeline(piece[1:]), [])]
            stack.append((branches[0][1], branches))
        else:
            _control(head, piece, stack)
    if len(stack) > 1:
        raise _fail("missing {{end}} for {{if}}")
    return GoTemplate(text, tuple(stack[0][0]))


def _control(
    head: str | None,
    piece: list[_Tok],
    stack: list[tuple[list[Node], list[tuple[Pipe, list[Node]]] | None]],
) -> None:
    """Handle `else`, `else if` and `end` by reshaping the stack of open `if`s."""
    branches = stack[-1][1]
    if branches is None:
        raise _fail(f"unexpected {{{{{head}}}}} without {{{{if}}}}")
    if head == "else" and branches[-1][0] == ():
        raise _fail("unexpected {{else}} after {{else}}")
    stack.pop()
    if head == "end":
        if len(piece) > 1:
            raise _fail("{{end}} takes no arguments")
        if_branches = tuple((p, tuple(b)) for p, b in branches if p != ())
        otherwise = tuple(branches[-1][1]) if branches[-1][0] == () else ()
        stack[-1][0].append(_If(if_branches, otherwise))
        return
    if len(piece) > 1 and piece[1] == _Tok("ident", "if"):
        branches.append((_pipeline(piece[2:]), []))
    elif len(piece) > 1:
        raise _fail("{{else}} takes no arguments (did you mean {{else if ...}}?)")
    else:
        branches.append(((), []))
    stack.append((branches[-1][1], branches))


def _pipeline(tokens: list[_Tok]) -> Pipe:
    depth = deepest = 0
    for tok in tokens:
        depth += {"lparen": 1, "rparen": -1}.get(tok.kind, 0)
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise _fail(f"parentheses nested more than {MAX_NESTING} deep")
    pipe, rest = _parse_pipe(tokens, 0)
    if rest != len(tokens):
        raise _fail("unexpected ')'")
    return pipe


def _parse_pipe(tokens: list[_Tok], i: int) -> tuple[Pipe, int]:
    commands: list[tuple[Operand, ...]] = []
    while True:
        command: list[Operand] = []
        while i < len(tokens) and tokens[i].kind not in ("pipe", "rparen"):
            operand, i = _operand(tokens, i)
            command.append(operand)
        if not command:
            raise _fail("missing value in pipeline")
        commands.append(tuple(command))
        if i < len(tokens) and tokens[i].kind == "pipe":
            i += 1
            continue
        return tuple(commands), i


def _operand(tokens: list[_Tok], i: int) -> tuple[Operand, int]:
    tok = tokens[i]
    if tok.kind == "field":
        return _Field(tok.value), i + 1
    if tok.kind == "dot":
        raise _fail("'.' (the whole context) is not supported; use a field such as .TargetNamespace")
    if tok.kind in ("str", "int", "bool"):
        return _Lit(tok.value), i + 1
    if tok.kind == "ident":
        if tok.value not in FUNCTIONS:
            raise _fail(f"unknown function {tok.value!r} (supported: {', '.join(sorted(FUNCTIONS))})")
        return _Func(tok.value), i + 1
    if tok.kind == "lparen":
        pipe, j = _parse_pipe(tokens, i + 1)
        if j >= len(tokens) or tokens[j].kind != "rparen":
            raise _fail("unclosed '('")
        return _Group(pipe), j + 1
    raise _fail("unexpected ')'")


# --- evaluation ---------------------------------------------------------------------------------


def _text_arg(name: str, index: int, value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is NO_VALUE:
        raise _fail(f"{name}: argument {index} is a map key that does not exist")
    raise _fail(f"{name}: argument {index} must be a string, not {_go_type(value)}")


def _go_type(value: Any) -> str:
    return {bool: "bool", int: "int", str: "string", dict: "map"}.get(type(value), "nil")


def _truth(value: Any) -> bool:
    return value is not NO_VALUE and bool(value)


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise _fail("eq: wrong number of arguments: want at least 2")
    for value in (a, *others):
        if value is NO_VALUE or isinstance(value, dict):
            raise _fail(f"eq: cannot compare {_go_type(value)}")
    return any(type(a) is type(b) and a == b for b in others)


def _index(mapping: Any, key: Any) -> Any:
    if not isinstance(mapping, dict):
        raise _fail(f"index: cannot index {_go_type(mapping)}")
    return mapping.get(_text_arg("index", 2, key), NO_VALUE)


def _strings(name: str, fn: Callable[..., Any], arity: int) -> tuple[int, Callable[..., Any]]:
    def call(*args: Any) -> Any:
        return fn(*(_text_arg(name, i + 1, a) for i, a in enumerate(args)))

    return arity, call


def _default(fallback: Any, value: Any) -> Any:
    # KubeMirror: `if value == nil || value == "" { return defaultValue }`.
    return fallback if value is NO_VALUE or value == "" else value


# name -> (arity, -1 for "at least 1"; implementation). `replace` is bounded at render time.
FUNCTIONS: Mapping[str, tuple[int, Callable[..., Any]]] = {
    "upper": _strings("upper", str.upper, 1),
    "lower": _strings("lower", str.lower, 1),
    "replace": _strings("replace", lambda s, old, new: (s, old, new), 3),
    "trimPrefix": _strings("trimPrefix", str.removeprefix, 2),
    "trimSuffix": _strings("trimSuffix", str.removesuffix, 2),
    "hasPrefix": _strings("hasPrefix", str.startswith, 2),
    "hasSuffix": _strings("hasSuffix", str.endswith, 2),
    "default": (2, _default),
    "not": (1, lambda v: not _truth(v)),
    "and": (-1, lambda *vs: next((v for v in vs if not _truth(v)), vs[-1])),
    "or": (-1, lambda *vs: next((v for v in vs if _truth(v)), vs[-1])),
    "eq": (-1, _eq),
    "ne": (2, lambda a, b: not _eq(a, b)),
    "index": (2, _index),
}


@dataclass(frozen=True)
class _Run:
    variables: Mapping[str, Any]
    limit: int

    def pipe(self, pipe: Pipe) -> Any:
        value: Any = None
        for n, command in enumerate(pipe):
            value = self.command(command, piped=(value,) if n else ())
        return value

    def command(self, command: tuple[Operand, ...], *, piped: tuple[Any, ...]) -> Any:
        head = command[0]
        if not isinstance(head, _Func):
            if len(command) > 1 or piped:
                raise _fail(f"{_describe(head)} is not a function and cannot take arguments")
            return self.operand(head)
        args = tuple(self.operand(op) for op in command[1:]) + piped
        arity, fn = FUNCTIONS[head.name]
        if (arity >= 0 and len(args) != arity) or (arity < 0 and not args):
            want = arity if arity >= 0 else "at least 1"
            raise _fail(f"{head.name}: wrong number of arguments: want {want}, got {len(args)}")
        result = fn(*args)
        if head.name == "replace":
            result = bounded_replace(*result, limit=self.limit)
        return result

    def operand(self, op: Operand) -> Any:
        if isinstance(op, _Lit):
            return op.value
        if isinstance(op, _Group):
            return self.pipe(op.pipe)
        if isinstance(op, _Func):
            return self.command((op,), piped=())
        return self.field(op.names)

    def field(self, names: tuple[str, ...]) -> Any:
        if names[0] not in self.variables:
            known = ", ".join("." + k for k in sorted(self.variables))
            raise _fail(f"unknown variable .{names[0]} (supported: {known})")
        value = self.variables[names[0]]
        for depth, name in enumerate(names[1:], start=1):
            if not isinstance(value, dict):
                where = "." + ".".join(names[:depth])
                raise _fail(f"cannot read field {name} of {where}: it is a {_go_type(value)}")
            value = value.get(name, NO_VALUE)
        return value


def _describe(op: Operand) -> str:
    if isinstance(op, _Field):
        return "." + ".".join(op.names)
    return "a literal" if isinstance(op, _Lit) else "a (group)"


def _print(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_print(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def render_go_template(tpl: GoTemplate, variables: Mapping[str, Any], *, options: EngineOptions) -> str:
    """Render with `variables` as the data struct; output is capped by the template limits."""
    run = _Run(variables, options.limits.max_template_output)
    out: list[str] = []
    _emit(run, tpl.nodes, out, [0])
    return "".join(out)


def _emit(run: _Run, nodes: tuple[Node, ...], out: list[str], size: list[int]) -> None:
    for node in nodes:
        if isinstance(node, _If):
            chosen = next((body for pipe, body in node.branches if _truth(run.pipe(pipe))), None)
            _emit(run, node.otherwise if chosen is None else chosen, out, size)
            continue
        text = node if isinstance(node, str) else _print(run.pipe(node.pipe))
        size[0] += len(text.encode())
        if size[0] > run.limit:
            raise _fail(f"template output exceeds {run.limit} bytes")
        out.append(text)
