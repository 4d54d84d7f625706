#!/usr/bin/env bash
# Mutation testing of the shared layer (layers/kyber/kyber) over the unit suite, with mutmut in its own
# venv. mutmut names mutants by file path from the project root (or src/), while the layer's package
# is imported as `kyber`: so it runs on a copy of the project in build/mutation with the package at
# src/kyber. Bounded by MUTATION_TIMEOUT seconds; prints the figures per file and overall.
# Usage: scripts/mutation/run.sh PYTHON   (the mutation venv's interpreter)
# Env: MUTANTS  mutmut's names of the mutants to check, as patterns (kyber.labels.*); all by default.
#      MUTATION_STRICT=1  fail unless some mutant was checked and every survivor is explained (the
#      bounded smoke make test runs, so that the harness cannot break unnoticed).
#      MUTATION_STAGE  the folder of the copy, build/mutation by default (the smoke has its own, so that
#      make test cannot delete a full run's copy under it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
python=${1:?usage: scripts/mutation/run.sh PYTHON}
stage=${MUTATION_STAGE:-build/mutation}
root=$PWD

rm -rf "$stage"
mkdir -p "$stage/src" "$stage/layers"
# template.yaml: the tests read the service's names and routes through scripts/project.py; the docs, their links.
cp -r tests functions scripts events stacks docs openapi.json template.yaml README.md "$stage/"
cp -r layers/models "$stage/layers/"
cp -r layers/kyber/kyber "$stage/src/kyber"
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
sed 's#"layers/kyber"#"src"#' pyproject.toml >"$stage/pyproject.toml"
cat >>"$stage/pyproject.toml" <<'TOML'

[tool.mutmut]
source_paths = ["src/kyber/"]
# mutmut stops a mutant's tests at a CPU-time limit: their clean-run time (plus timeout_constant
# seconds) times 2 times timeout_multiplier. Its default multiplier, 15, lets a few hanging mutants
# take most of a run on 2 cores; the report shows timeouts apart from kills. The clean-run time counts
# only the tests' calls, not their fixtures, while each mutant's run builds the session's models layer
# again (several CPU seconds) before its first test: the constant covers that, or a mutant the first
# test kills is stopped as a timeout.
timeout_multiplier = 1.5
timeout_constant = 10
also_copy = [
    "layers/models/", "functions/", "scripts/", "events/", "stacks/", "docs/", "openapi.json", "template.yaml",
    "README.md",
]
pytest_add_cli_args_test_selection = [
    "tests/unit",
    # these need SAM CLI (its patch, its template transform) or the `sam build` output, which the
    # mutation venv and copy lack
    "--ignore=tests/unit/scripts/test_patch_sam_cli.py",
    "--ignore=tests/unit/project/test_deployed_size.py",
    "--ignore=tests/unit/project/test_template.py",
    "--ignore=tests/unit/project/test_monitoring_template.py",
    "--ignore=tests/unit/scripts/test_template_variant.py",
    "--ignore=tests/unit/project/test_log_levels.py",
    "--ignore=tests/unit/scripts/test_release.py",
]
TOML

# scripts/openapi.py reads the protocol's published models with the clients' venv, beside the copy
# mutmut runs the tests in.
mkdir "$stage/mutants"
ln -s "$root/.venv-clients" "$stage/mutants/.venv-clients"
children=$(nproc) # before OMP_NUM_THREADS below, which nproc obeys
cd "$stage"
# One thread per numeric library: the limit is CPU time, which idle-spinning thread pools inflate.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
set -f # the patterns are mutmut's, not the shell's
read -ra selected <<<"${MUTANTS:-}"
set +f
status=0
timeout "${MUTATION_TIMEOUT:-5400}" "$(dirname "$python")/mutmut" run --max-children "$children" "${selected[@]}" \
  >mutmut-run.log 2>&1 || status=$?
if ((status == 124)); then
  echo "mutation: stopped after MUTATION_TIMEOUT=${MUTATION_TIMEOUT:-5400} s; the figures cover the mutants checked so far"
elif ((status != 0)); then
  tr '\r' '\n' <mutmut-run.log | tail -n 20
  exit "$status"
fi
"$python" "$root/scripts/mutation/report.py" ${MUTATION_STRICT:+--strict} || status=$?
exit "$status"
