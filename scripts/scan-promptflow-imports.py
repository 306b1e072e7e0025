#!/usr/bin/env python3
"""List the `promptflow` names that Prompt Flow projects import, for the stand-in package's import test.

    python3 scripts/scan-promptflow-imports.py ROOT... > tests/fixtures/promptflow-imports.txt

Every `.py` file under the roots is parsed (ast, so multi-line and aliased imports count); each
`from promptflow.x import Name` gives `promptflow.x:Name`, each `import promptflow.x` gives `promptflow.x`.
Names that belong elsewhere are left out (EXCLUDED, with the reason): the evaluation SDK has its own
stand-in and test, and the SDK clients that drive Prompt Flow's own runs are what llmops replaces (they
appear in notebooks, test scripts and the template's pipeline scripts, never in flow code).
Lines of the output: `<module>[:<name>]<TAB># <count> file(s), e.g. <first file>`.
"""
import ast
import os
import sys

EXCLUDED = {
    "promptflow.evals": "evaluation SDK (stand-in and test of its own)",
    "promptflow.client": "SDK client driving Prompt Flow runs (replaced by llmops)",
    "promptflow.azure": "SDK client driving Prompt Flow runs on Azure ML (replaced by llmops)",
    "promptflow._sdk._errors": "SDK client errors",
    "promptflow._sdk.operations": "SDK client operations",
    "promptflow.entities:Run": "SDK run entity",
    "promptflow._sdk.entities:Run": "SDK run entity",
}


def excluded(key):
    module = key.split(":")[0]
    return key in EXCLUDED or any(module == p or module.startswith(p + ".") for p in EXCLUDED if ":" not in p)


def scan(roots):
    found = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    try:
                        tree = ast.parse(f.read())
                    except SyntaxError:
                        continue  # Prompt Flow's own deliberately broken test files
                for node in ast.walk(tree):
                    keys = []
                    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                            (node.module == "promptflow" or node.module.startswith("promptflow.")):
                        keys = [f"{node.module}:{a.name}" for a in node.names if a.name != "*"]
                    elif isinstance(node, ast.Import):
                        keys = [a.name for a in node.names if a.name == "promptflow" or a.name.startswith("promptflow.")]
                    for key in keys:
                        if not excluded(key):
                            found.setdefault(key, []).append(os.path.relpath(path, root))
    return found


def main(roots):
    if not roots:
        sys.exit(__doc__)
    found = scan(roots)
    print("# promptflow names imported by Prompt Flow projects (scripts/scan-promptflow-imports.py).")
    print("# Scanned: " + ", ".join(os.path.basename(os.path.normpath(r)) for r in roots))
    for key in sorted(found):
        files = found[key]
        print(f"{key}\t# {len(files)} file(s), e.g. {files[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
