"""Chat templates (Jinja) read for template injection: tokenised, never rendered.

A chat template ships with the model (GGUF metadata, ``tokenizer_config.json``) and is
rendered by the serving stack on every request. Jinja's sandbox has been escaped through
the objects every template can reach: ``cycler.__init__.__globals__.os.popen(...)``,
``lipsum.__globals__['__builtins__']``, ``self._TemplateReference__context``. Benign
templates never touch dunder attributes, these gadget objects' attributes, the ``attr``
filter or other templates, so each of those is reported.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bastion.models import Location, Severity
from bastion.scan._context import ScanContext

MAX_TEMPLATE = 1 << 20
_DUNDER = re.compile(r"__\w*__|^__|__$")
_DUNDER_WORD = re.compile(r"__[A-Za-z]\w*__")
#: A dunder's start or end, or a mangled private name ("_TemplateReference__context");
#: runs of underscores used as separators ("____") are not.
_DUNDERISH = re.compile(r"(?<!_)__[A-Za-z]|[A-Za-z0-9]__(?!_)")
#: Globals every Jinja environment offers whose attributes lead to Python internals.
GADGETS = frozenset(
    {"cycler", "joiner", "namespace", "lipsum", "self", "range", "dict", "config",
     "request", "url_for", "get_flashed_messages"}
)  # fmt: skip
#: Names a template has no business using as variables or functions.
DANGEROUS_NAMES = frozenset(
    {"os", "sys", "subprocess", "builtins", "importlib", "eval", "exec", "compile",
     "popen", "getattr", "globals", "locals", "open", "__import__", "import_module"}
)  # fmt: skip
#: Attributes that reach code execution or interpreter internals.
DANGEROUS_ATTRS = DANGEROUS_NAMES | frozenset(
    {"system", "spawn", "run", "check_output", "subclasses", "mro", "base", "bases",
     "func_globals", "f_globals", "f_back", "gi_frame", "gi_code", "tb_frame",
     "load_module", "modules", "read_text", "write_text", "unlink", "remove"}
)  # fmt: skip
#: Statements that load other templates (from files the renderer can reach).
LOADERS = frozenset({"import", "include", "extends", "from"})


@dataclass(frozen=True, slots=True)
class TemplateRisk:
    severity: Severity
    reason: str
    line: int


@dataclass(frozen=True, slots=True)
class _Token:
    line: int
    kind: str  # "name", "string", "dot", "lbracket", "pipe", "block_begin", "tilde", "add", ...
    value: str


def analyse(source: str) -> list[TemplateRisk]:
    """Every risky construct in ``source``; raises ``ValueError`` when it does not lex."""
    return analyse_tokens(list(_lex(source)))


def check_template(source: str, key: str, location: Location, ctx: ScanContext) -> None:
    """Report template-injection constructs in one chat template (shared with JSON configs)."""
    try:
        risks = analyse(source)
    except ValueError as exc:
        ctx.finding(
            "chat-template.unparseable",
            Severity.MEDIUM,
            f"{key} cannot be analysed ({exc}); renderers may still run it",
            location,
            key=key,
        )
        return
    if risks:
        worst = max(r.severity for r in risks)
        reasons = sorted({f"line {r.line}: {r.reason}" for r in risks})
        ctx.finding(
            "chat-template.injection",
            worst,
            f"{key} reaches Python internals from Jinja: {reasons[0]}"
            + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""),
            location,
            key=key,
            reasons=reasons[:20],
        )


def analyse_tokens(tokens: list[_Token]) -> list[TemplateRisk]:
    risks: list[TemplateRisk] = []
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else None
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        risk = _judge(tok, prev, nxt)
        if risk is not None:
            risks.append(risk)
    risks.extend(_concatenated_dunders(tokens))
    return risks


def _judge(tok: _Token, prev: _Token | None, nxt: _Token | None) -> TemplateRisk | None:
    line = tok.line
    if tok.kind == "string":
        return _judge_string(tok, nxt)
    if tok.kind == "data" and _DUNDER_WORD.search(tok.value):
        return TemplateRisk(Severity.HIGH, "template text spells a dunder name", line)
    if tok.kind != "name":
        return None
    name = tok.value
    after_dot = prev is not None and prev.kind == "dot"
    if _DUNDER.search(name):
        return TemplateRisk(Severity.CRITICAL, f"dunder attribute or name {name!r}", line)
    if prev is not None and prev.kind == "block_begin" and name in LOADERS:
        return TemplateRisk(Severity.HIGH, f"'{{% {name} %}}' loads another template", line)
    if prev is not None and prev.kind == "pipe" and name == "attr":
        return TemplateRisk(Severity.HIGH, "the 'attr' filter reaches arbitrary attributes", line)
    if after_dot and name in DANGEROUS_ATTRS:
        return TemplateRisk(Severity.CRITICAL, f"attribute {name!r} reaches code execution", line)
    if not after_dot and name in DANGEROUS_NAMES:
        return TemplateRisk(Severity.HIGH, f"name {name!r} has no place in a template", line)
    reaches = nxt is not None and nxt.kind in ("dot", "lbracket")
    if not after_dot and name in GADGETS and (reaches or name == "self"):
        return TemplateRisk(Severity.CRITICAL, f"attribute access on the global {name!r}", line)
    return None


def _judge_string(tok: _Token, nxt: _Token | None) -> TemplateRisk | None:
    if _DUNDERISH.search(tok.value):
        return TemplateRisk(
            Severity.CRITICAL, f"string {tok.value[:40]!r} names a dunder", tok.line
        )
    if "%c" in tok.value and nxt is not None and nxt.kind == "pipe":
        return TemplateRisk(Severity.HIGH, "'%c' formatting builds text from numbers", tok.line)
    return None


def _concatenated_dunders(tokens: list[_Token]) -> Iterator[TemplateRisk]:
    """Strings joined with ``~`` or ``+`` (or listed for ``join``) that spell a dunder
    only together."""
    run: list[str] = []
    line = 0
    for tok in [*tokens, _Token(0, "end", "")]:
        if tok.kind == "string":
            run.append(tok.value)
            line = line or tok.line
        elif tok.kind not in ("tilde", "add", "comma"):
            joined = "".join(run)
            seen = any(_DUNDERISH.search(part) for part in run)
            if len(run) > 1 and _DUNDERISH.search(joined) and not seen:
                yield TemplateRisk(Severity.CRITICAL, f"strings joined into {joined[:40]!r}", line)
            run, line = [], 0


def _lex(source: str) -> Iterator[_Token]:
    if len(source) > MAX_TEMPLATE:
        raise ValueError(f"template of {len(source)} characters is too long to analyse")
    try:
        from jinja2 import Environment
        from jinja2.exceptions import TemplateSyntaxError
    except ImportError:  # pragma: no cover - jinja2 is a dependency; kept for vendored installs
        yield from lex_fallback(source)
        return
    env = Environment(autoescape=False)  # noqa: S701 - lexed only, never rendered
    try:
        for tok in env.lexer.tokenize(source):
            yield _Token(tok.lineno, tok.type, str(tok.value))
    except TemplateSyntaxError as exc:
        raise ValueError(f"line {exc.lineno}: {exc.message}") from exc


_TAG = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}|\{#.*?#\}", re.S)
_PART = re.compile(
    r"""(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<name>[A-Za-z_]\w*)"""
    r"""|(?P<op>[.\[|~+,])|(?P<other>\S)|\s+""",
    re.S,
)
_OPS = {".": "dot", "[": "lbracket", "|": "pipe", "~": "tilde", "+": "add", ",": "comma"}


def lex_fallback(source: str) -> Iterator[_Token]:
    """A small lexer for tags, names, strings and the operators the analysis needs."""
    last = 0
    for tag in _TAG.finditer(source):
        line = source.count("\n", 0, tag.start()) + 1
        if tag.start() > last:
            yield _Token(line, "data", source[last : tag.start()])
        last = tag.end()
        body = tag.group(1) if tag.group(1) is not None else tag.group(2)
        if body is None:
            continue
        if tag.group(2) is not None:
            yield _Token(line, "block_begin", "{%")
        for part in _PART.finditer(body.strip("-+ \t\r\n")):
            if part.group("string"):
                raw = part.group("string")[1:-1]
                yield _Token(line, "string", codecs.decode(raw, "unicode_escape", "replace"))
            elif part.group("name"):
                yield _Token(line, "name", part.group("name"))
            elif part.group("op"):
                yield _Token(line, _OPS[part.group("op")], part.group("op"))
            elif part.group("other"):
                yield _Token(line, "operator", part.group("other"))
