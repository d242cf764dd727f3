"""A small, seeded mutation loop: how many deliberately broken versions of a file do the
tests catch?

It parses the file with `ast`, lists the places in the given line ranges where a small
change makes a plausible bug (a comparison's boundary or sense, `+`/`-`, `and`/`or`, a
dropped `not`, an integer off by one, `True`/`False`, a `return None`, a dropped call,
assignment, `raise` or `if` body, a slice bound left out), samples some of them with a
fixed seed, and for each one writes the changed file, runs pytest and puts the file back.
Only the changed node's text is replaced; the rest of the file stays byte-identical.

A mutant is *killed* when the tests fail, *survived* when they pass and *timeout* when they
take longer than `--timeout`. Run it in a scratch worktree, never in a tree others use:

    git worktree add /tmp/mut HEAD && cd /tmp/mut
    PYTHONPATH=/tmp/mut/src python tools/mutation.py --name records \\
        --file src/fastapi_issues/storage/records/_issues.py --sample 60 --seed 13 \\
        -- tests/storage/test_contract.py -k "Memory or JSON"

Results go to `tools/mutation-results/<name>.json` (every detail) and `<name>.md` (a
table). `--replay <json>` runs the mutants of an earlier run again, e.g. after adding tests;
`--equivalent <json>` names mutants judged equivalent (`{"id": "reason"}`), which the rate
leaves out. A dev tool: CI does not run it.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PYTEST_FLAGS = [
    "-x",
    "-q",
    "-p",
    "no:cacheprovider",
    "--hypothesis-profile=noshrink",
    "--hypothesis-seed=0",
]

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {ast.Add: ast.Sub, ast.Sub: ast.Add}
_BOOLOP_SWAPS: dict[type[ast.boolop], type[ast.boolop]] = {ast.And: ast.Or, ast.Or: ast.And}


@dataclass
class Mutant:
    """One change: the text from (line, col) to (end_line, end_col) becomes `replacement`."""

    id: str
    line: int
    col: int
    end_line: int
    end_col: int
    original: str
    replacement: str
    description: str
    result: str = ""
    seconds: float = 0.0


# -- finding mutation points -----------------------------------------------------------


def _op_symbol(op: ast.AST) -> str:
    # unparse of a tiny expression is the simplest way to spell an operator.
    if isinstance(op, ast.cmpop):
        return ast.unparse(ast.Compare(ast.Name("a"), [op], [ast.Name("b")]))[2:-2]
    if isinstance(op, ast.operator):
        return ast.unparse(ast.BinOp(ast.Name("a"), op, ast.Name("b")))[2:-2]
    return "and" if isinstance(op, ast.And) else "or"


def _annotations(tree: ast.AST) -> set[int]:
    """ids of the nodes inside type annotations, which are never mutated."""
    found: set[int] = set()
    for node in ast.walk(tree):
        roots: list[ast.AST | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            roots.append(node.returns)
        elif isinstance(node, (ast.arg, ast.AnnAssign)):
            roots.append(node.annotation)
        for root in roots:
            if root is not None:
                found.update(id(n) for n in ast.walk(root))
    return found


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first))
                found.add(id(first.value))
    return found


def _expression(node: ast.expr) -> str:
    """`node` as source, in parentheses unless it is an atom, so it fits any context."""
    text = ast.unparse(node)
    if isinstance(node, (ast.Name, ast.Constant, ast.Attribute, ast.Call, ast.Subscript)):
        return text
    return f"({text})"


class _Finder:
    def __init__(self, source: str, lines: set[int]) -> None:
        self.source = source
        self.lines = lines
        self.points: list[tuple[ast.AST, str, str]] = []  # (node, replacement, description)

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ""

    def add(self, node: ast.AST, replacement: str, description: str) -> None:
        if getattr(node, "lineno", 0) in self.lines:
            self.points.append((node, replacement, description))

    def find(self, tree: ast.Module) -> None:
        skipped = _annotations(tree) | _docstrings(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            self.expression_points(node)
            self.statement_points(node)

    def expression_points(self, node: ast.AST) -> None:
        if isinstance(node, ast.Compare):
            for index, op in enumerate(node.ops):
                swapped = _COMPARE_SWAPS.get(type(op))
                if swapped is None:
                    continue
                ops = list(node.ops)
                ops[index] = swapped()
                mutated = ast.Compare(node.left, ops, node.comparators)
                desc = f"`{_op_symbol(op)}` -> `{_op_symbol(swapped())}`"
                self.add(node, _expression(mutated), desc)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
            swapped_op = _BINOP_SWAPS[type(node.op)]()
            mutated_op = ast.BinOp(node.left, swapped_op, node.right)
            desc = f"`{_op_symbol(node.op)}` -> `{_op_symbol(swapped_op)}`"
            self.add(node, _expression(mutated_op), desc)
        elif isinstance(node, ast.BoolOp):
            swapped_bool = _BOOLOP_SWAPS[type(node.op)]()
            mutated_bool = ast.BoolOp(swapped_bool, node.values)
            desc = f"`{_op_symbol(node.op)}` -> `{_op_symbol(swapped_bool)}`"
            self.add(node, _expression(mutated_bool), desc)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self.add(node, _expression(node.operand), "`not` removed")
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            self.add(node, repr(not node.value), f"`{node.value}` -> `{not node.value}`")
        elif isinstance(node, ast.Constant) and isinstance(node.value, int):
            for delta in (1, -1):
                value = node.value + delta
                self.add(node, f"({value})", f"`{node.value}` -> `{value}`")
        elif isinstance(node, ast.Slice):
            for bound in ("lower", "upper"):
                part = getattr(node, bound)
                if part is None:
                    continue
                kept = ast.Slice(**{**{b: getattr(node, b) for b in node._fields}, bound: None})
                self.add(node, ast.unparse(kept), f"slice bound `{self.segment(part)}` dropped")

    def statement_points(self, node: ast.AST) -> None:
        if not isinstance(node, ast.stmt):
            return
        pass_line = "pass"
        if isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                self.add(node, "return None", "`return None` instead of the value")
        elif isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
            self.add(node, pass_line, "call dropped")
        elif isinstance(node, (ast.Raise, ast.Delete, ast.AugAssign)):
            self.add(node, pass_line, f"`{type(node).__name__.lower()}` statement dropped")
        elif isinstance(node, ast.Assign) and all(
            isinstance(t, (ast.Attribute, ast.Subscript)) for t in node.targets
        ):
            self.add(node, pass_line, "assignment to attribute/item dropped")
        elif isinstance(node, ast.If):
            first, last = node.body[0], node.body[-1]
            body = ast.Pass(
                lineno=first.lineno,
                col_offset=first.col_offset,
                end_lineno=last.end_lineno,
                end_col_offset=last.end_col_offset,
            )
            if node.lineno in self.lines:
                self.points.append((body, pass_line, f"`if` body (line {node.lineno}) dropped"))


def find_mutants(source: str, lines: set[int]) -> list[Mutant]:
    tree = ast.parse(source)
    finder = _Finder(source, lines)
    finder.find(tree)
    original_dump = ast.dump(tree)
    mutants: list[Mutant] = []
    seen: set[tuple[int, int, int, int, str]] = set()
    for node, replacement, description in finder.points:
        place = (
            node.lineno,  # type: ignore[attr-defined]
            node.col_offset,  # type: ignore[attr-defined]
            node.end_lineno,  # type: ignore[attr-defined]
            node.end_col_offset,  # type: ignore[attr-defined]
            replacement,
        )
        if place in seen:
            continue
        seen.add(place)
        mutant = Mutant(
            "", *place[:4], original="", replacement=replacement, description=description
        )
        mutant.original = _span(source, mutant)
        mutated = apply(source, mutant)
        try:
            if ast.dump(ast.parse(mutated)) == original_dump:
                continue  # the same program, spelled differently
        except SyntaxError:
            continue
        mutants.append(mutant)
    mutants.sort(key=lambda m: (m.line, m.col, m.end_line, m.end_col, m.replacement))
    return mutants


# -- applying one ------------------------------------------------------------------------


def _offsets(source: str, mutant: Mutant) -> tuple[int, int]:
    # ast columns count UTF-8 bytes; work on bytes so non-ASCII lines stay right.
    starts = [0]
    for line in source.encode().splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts[mutant.line - 1] + mutant.col, starts[mutant.end_line - 1] + mutant.end_col


def _span(source: str, mutant: Mutant) -> str:
    start, end = _offsets(source, mutant)
    return source.encode()[start:end].decode()


def apply(source: str, mutant: Mutant) -> str:
    start, end = _offsets(source, mutant)
    data = source.encode()
    return (data[:start] + mutant.replacement.encode() + data[end:]).decode()


# -- running -----------------------------------------------------------------------------


def run_tests(command: list[str], cwd: Path, timeout: float) -> tuple[str, float]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryDirectory(prefix="mutation-hypothesis-") as storage:
        # A fresh example database each time: no mutant replays another one's failures.
        env["HYPOTHESIS_STORAGE_DIRECTORY"] = storage
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return "timeout", time.monotonic() - started
    seconds = time.monotonic() - started
    if code == 0:
        return "survived", seconds
    if code == 1:
        return "killed", seconds
    if code == 2:  # interrupted, e.g. an import error at collection: the tests caught it
        return "killed (error)", seconds
    raise SystemExit(f"pytest exited with {code}: check the command, {command}")


def _forget_bytecode(path: Path) -> None:
    # A mutant may be as long as the original: never let a stale .pyc stand in for it.
    cached = Path(importlib.util.cache_from_source(str(path)))
    cached.unlink(missing_ok=True)


def parse_lines(spec: str | None, source: str) -> set[int]:
    if not spec:
        return set(range(1, source.count("\n") + 2))
    lines: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        lines.update(range(int(first), int(last or first) + 1))
    return lines


def fingerprint(mutants: list[Mutant]) -> str:
    text = json.dumps([(m.line, m.col, m.end_line, m.end_col, m.replacement) for m in mutants])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def summary(mutants: list[Mutant], equivalent: dict[str, str]) -> tuple[int, int]:
    """(killed, counted): counted leaves out the mutants judged equivalent."""
    counted = [m for m in mutants if m.id not in equivalent]
    killed = sum(1 for m in counted if m.result != "survived")
    return killed, len(counted)


def write_report(
    out: Path, name: str, meta: dict[str, object], mutants: list[Mutant], equivalent: dict[str, str]
) -> None:
    killed, counted = summary(mutants, equivalent)
    out.mkdir(parents=True, exist_ok=True)
    data = {**meta, "killed": killed, "counted": counted, "mutants": [asdict(m) for m in mutants]}
    (out / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    rate = f"{100 * killed / counted:.0f}%" if counted else "n/a"
    lines = [
        f"# Mutation run `{name}`",
        "",
        f"- file: `{meta['file']}`, lines {meta['lines']}",
        f"- tests: `{' '.join(map(str, meta['pytest']))}`",  # type: ignore[call-overload]
        f"- {len(mutants)} mutants sampled with seed {meta['seed']} out of {meta['candidates']}"
        f" (sample {meta['fingerprint']}), {meta['seconds']:.0f} s in all",
        f"- **killed {killed} of {counted} ({rate})**, {len(mutants) - counted} judged equivalent",
        "",
        "| id | line | mutation | result |",
        "|---|---|---|---|",
    ]
    for m in mutants:
        change = f"`{m.original}` -> `{m.replacement}`".replace("|", "\\|").replace("\n", " ")
        if len(change) > 90:
            change = m.description
        result = m.result
        if m.id in equivalent:
            result += f" (equivalent: {equivalent[m.id]})"
        lines.append(f"| {m.id} | {m.line} | {change} | {result} |")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="names the result files")
    parser.add_argument("--file", type=Path, required=True, help="the file to mutate")
    parser.add_argument("--lines", help="line ranges to mutate, e.g. 10-40,55 (default: all)")
    parser.add_argument("--sample", type=int, default=60)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant")
    parser.add_argument("--replay", type=Path, help="run the mutants of this earlier result")
    parser.add_argument("--equivalent", type=Path, help='{"id": "reason"} for equivalents')
    parser.add_argument("--out", type=Path, default=Path("tools/mutation-results"))
    parser.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="with --replay: keep the earlier kills, run only the mutants that were not killed",
    )
    parser.add_argument("--list", action="store_true", help="only list the sample")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest's args")
    args = parser.parse_args()
    pytest_args = [a for a in args.pytest_args if a != "--"] if args.pytest_args else []
    command = [sys.executable, "-m", "pytest", *PYTEST_FLAGS, *pytest_args]

    path: Path = args.file
    original = path.read_text()
    if args.replay:
        earlier = json.loads(args.replay.read_text())
        mutants = [Mutant(**m) for m in earlier["mutants"]]
        for m in mutants:
            if not (args.rerun_survivors and m.result.startswith("killed")):
                m.result, m.seconds = "", 0.0
        candidates = earlier["candidates"]
        for m in mutants:
            if _span(original, m) != m.original:
                raise SystemExit(f"{m.id}: line {m.line} no longer reads {m.original!r}")
    else:
        everything = find_mutants(original, parse_lines(args.lines, original))
        candidates = len(everything)
        chosen = random.Random(args.seed).sample(everything, min(args.sample, candidates))
        mutants = sorted(chosen, key=lambda m: (m.line, m.col, m.replacement))
        for number, m in enumerate(mutants, 1):
            m.id = f"{args.name}-{number:02}"
    equivalent = json.loads(args.equivalent.read_text()) if args.equivalent else {}
    meta: dict[str, object] = {
        "file": str(path),
        "lines": args.lines or "all",
        "seed": args.seed,
        "candidates": candidates,
        "fingerprint": fingerprint(mutants),
        "pytest": command[2:],
    }
    print(f"{len(mutants)} of {candidates} candidates, sample {meta['fingerprint']}")
    if args.list:
        for m in mutants:
            print(f"{m.id} line {m.line}: {m.original!r} -> {m.replacement!r} ({m.description})")
        return

    started = time.monotonic()
    baseline, seconds = run_tests(command, Path.cwd(), args.timeout)
    if baseline != "survived":
        raise SystemExit(f"the tests do not pass on the unchanged file ({baseline})")
    print(f"unchanged file: tests pass in {seconds:.0f} s")
    try:
        for m in mutants:
            if m.result:
                continue  # killed in the run replayed, by tests that are all still here
            path.write_text(apply(original, m))
            _forget_bytecode(path)
            try:
                m.result, m.seconds = run_tests(command, Path.cwd(), args.timeout)
            finally:
                path.write_text(original)
                _forget_bytecode(path)
            print(f"{m.id} line {m.line:4} {m.result:15} {m.seconds:5.0f} s  {m.description}")
            meta["seconds"] = time.monotonic() - started
            # After each mutant, so that a run cut short still leaves its results.
            write_report(args.out, args.name, meta, [m for m in mutants if m.result], equivalent)
    finally:
        path.write_text(original)
    killed, counted = summary(mutants, equivalent)
    print(f"killed {killed} of {counted}")


if __name__ == "__main__":
    main()
