# Kyber crystal classifier: the commands the README names.
#   make serve   set up, build and serve the API on http://127.0.0.1:3000 (sam local start-api)
#   make test    set up, build, then lint, unit and integration tests
#   make load    set up, build, then a bounded load run through sam local start-api
#   make mutation  mutation testing of the shared layer over the unit suite (its own venv)
#   make mutation-smoke  the mutants of one small module, as make test runs them
#   make smoke STACK=<name>  the smoke cases against a deployed stack's API, its URL and key from its outputs
#   make release STACK=<name> BUCKET=<bucket> [REGION=] [PREFIX=] [DRY_RUN=1]  the models in layers/models/artifacts
#                built, gated, uploaded to S3, deployed through the canary and smoke-checked (docs/deployment.md)
#   make releases STACK=<name> [REGION=]  each function's versions, the release each serves, where live points
#   make rollback STACK=<name> [TO=<release or version>] [REGION=] [DRY_RUN=1]  back to the release before, or TO
#   make golden  record the golden answers again (after an intended change to them)
#   make report  build and measure the models, then write build/model-report/index.html
#   make drift CAPTURE=<folder or s3://bucket/prefix>  Evidently's drift report of captured requests (its own venv)
#   make shadow-report [CAPTURE=<folder or s3://...>] [SINCE=<time or 24h>]  a challenger's shadow and verdict
#   make promote MODEL=<sklearn|pytorch> [FORCE=1 REASON="..."]  swap the model's challenger and champion in
#                layers/models/artifacts, on a ready shadow report (docs/models.md); the same command goes back
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PYTHON := $(BIN)/python
PORT ?= 3000

# SAM and the layer Makefiles find the development venv's tools first. On pyenv machines the
# python3.13 interpreter that `sam build` asks for is made resolvable beside the default one.
export PATH := $(BIN):$(PATH)
ifneq ($(shell command -v pyenv),)
export PYENV_VERSION ?= $(shell pyenv version-name):$(shell pyenv versions --bare | grep -m1 '^3\.13')
endif
# Offline-friendly SAM: no telemetry; dummy credentials (unless real ones are set) with a single
# attempt, so the emulator neither looks credentials up per request nor retries STS for seconds.
export SAM_CLI_TELEMETRY := 0
export AWS_ACCESS_KEY_ID ?= kyber-local
export AWS_SECRET_ACCESS_KEY ?= kyber-local
export AWS_DEFAULT_REGION ?= eu-west-1
export AWS_MAX_ATTEMPTS ?= 1
# The model cards' date is that of the artifacts' last commit, so the same models build the same models
# layer on any day (a changed layer is a new deployment); today's while the artifacts have uncommitted changes.
SOURCE_DATE_EPOCH ?= $(shell git status --porcelain -- layers/models/artifacts 2>/dev/null | grep -q . \
	|| git log -1 --format=%ct -- layers/models/artifacts 2>/dev/null)
# Exported only when set: an empty SOURCE_DATE_EPOCH breaks the tools that read it (numpy's f2py among them).
ifneq ($(SOURCE_DATE_EPOCH),)
export SOURCE_DATE_EPOCH
endif

.PHONY: help setup emulator browser build serve test lint unit integration benchmark load mutation mutation-smoke golden openapi train report smoke release releases rollback drift shadow-report promote clean

help:
	@grep -E '^#   make' Makefile | sed 's/^#   //'

# scripts/emulator/patch_sam_cli.py fixes two defects of SAM CLI 1.170.0's emulator in this venv (README).
$(VENV)/.installed: requirements/dev.txt scripts/emulator/patch_sam_cli.py
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements/dev.txt
	$(PYTHON) scripts/emulator/patch_sam_cli.py
	touch $@

setup: $(VENV)/.installed emulator browser

emulator:
	scripts/emulator/prepare.sh

# Headless Chromium (Debian's package) for the integration test that opens the models report.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

build: $(VENV)/.installed
	sam build

# Serving needs neither root nor Chromium once Docker and the emulator image are there (scripts/emulator/prepare.sh).
serve: $(VENV)/.installed emulator build
	PORT=$(PORT) scripts/emulator/serve.sh

# Tools that cannot share .venv (their pins clash with SAM CLI's) get a venv each:
# .venv-<name> from requirements/<name>.txt.
.venv-%/.installed: requirements/%.txt
	python3 -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -r $<
	touch $@

# The template: SAM's own rules, the serverless rules, then checkov's security checks (a check that
# does not apply is skipped in the template's Metadata, with its reason). checkov reads neither Fn::ForEach nor
# the parameters, and leaves out resources whose condition is false with the defaults: so it checks the
# resources the stack creates (scripts/template_variant.py), with the defaults, and with capture, alarm mail and an
# encrypted S3 model release on.
lint: $(VENV)/.installed .venv-lint/.installed
	ruff check .
	ruff format --check .
	mypy
	sam validate --lint
	cfn-lint template.yaml stacks/*.yaml --append-rules cfn_lint_serverless.rules
	$(PYTHON) -m scripts.template_variant build/lint/template.json
	.venv-lint/bin/checkov --file build/lint/template.json --file build/lint/template-Monitoring.json --framework cloudformation --skip-download --compact --quiet
	$(PYTHON) -m scripts.template_variant build/lint/template-on.json DataCapturePercent=5 AlarmEmail=ops@example.com \
		ModelSource=s3://kyber-models/releases/$$(printf '0%.0s' {1..64})/ \
		ModelSourceKmsKeyArn=arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
	.venv-lint/bin/checkov --file build/lint/template-on.json --file build/lint/template-on-Monitoring.json --framework cloudformation --skip-download --compact --quiet

unit: build .venv-clients/.installed
	$(PYTHON) -m pytest tests/unit

integration: setup build .venv-clients/.installed
	$(PYTHON) -m pytest -m integration tests/integration

test: lint setup build .venv-clients/.installed mutation-smoke
	$(PYTHON) -m pytest tests

benchmark: setup build
	$(PYTHON) -m scripts.perf.benchmark --http

load: setup build
	$(PYTHON) -m scripts.perf.load

mutation: .venv-mutation/.installed .venv-clients/.installed
	scripts/mutation/run.sh $(CURDIR)/.venv-mutation/bin/python

# The mutants of one small module, in a few minutes, failing unless every one is killed or explained: make test
# runs it, so that the mutation harness cannot break unnoticed between full runs.
mutation-smoke: .venv-mutation/.installed .venv-clients/.installed
	MUTANTS='kyber.labels.*' MUTATION_TIMEOUT=600 MUTATION_STRICT=1 MUTATION_STAGE=build/mutation-smoke scripts/mutation/run.sh $(CURDIR)/.venv-mutation/bin/python

# Records the golden answers again (tests/unit/project/golden_responses.json): only when a change to them is intended.
golden: build
	POWERTOOLS_LOG_LEVEL=ERROR $(PYTHON) -m scripts.project exec $(PYTHON) -m tests.support.golden

# The protocol's published data models are read from KServe's package, which only .venv-clients holds.
openapi: build .venv-clients/.installed
	POWERTOOLS_LOG_LEVEL=ERROR $(PYTHON) -m scripts.project exec $(PYTHON) -m scripts.openapi --write

train: $(VENV)/.installed
	PYTHONPATH=layers/kyber:layers/models $(PYTHON) -m model_build.training --out layers/models/artifacts

# Against AWS: the caller's own credentials, region and retries (a profile too), not the local
# stand-ins this Makefile exports when the environment has none.
AWS_OWN := $(foreach name,AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_MAX_ATTEMPTS,$(if $(filter file,$(origin $(name))),-u $(name)))

smoke: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make smoke STACK=<stack name> [REGION=<region>]" >&2; exit 2; }
	env $(AWS_OWN) $(PYTHON) -m scripts.deploy.smoke --stack $(STACK) $(if $(REGION),--region $(REGION))

# A release, its history and the way back (scripts/release), with the caller's own AWS credentials.
RELEASE := env $(AWS_OWN) PYTHONPATH=layers/kyber:layers/models $(PYTHON) -m scripts.release
RELEASE_WHERE = --stack $(STACK) $(if $(REGION),--region $(REGION))

release: $(VENV)/.installed
	@test -n "$(STACK)" -a -n "$(BUCKET)" || { echo "usage: make release STACK=<stack name> BUCKET=<bucket> [REGION=<region>] [PREFIX=<folder>] [DRY_RUN=1]" >&2; exit 2; }
	$(RELEASE) release $(RELEASE_WHERE) --bucket $(BUCKET) $(if $(PREFIX),--prefix $(PREFIX)) $(if $(filter-out 0 no false,$(DRY_RUN)),--dry-run)

releases: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make releases STACK=<stack name> [REGION=<region>]" >&2; exit 2; }
	$(RELEASE) releases $(RELEASE_WHERE)

rollback: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make rollback STACK=<stack name> [TO=<release or version>] [REGION=<region>] [DRY_RUN=1]" >&2; exit 2; }
	$(RELEASE) rollback $(RELEASE_WHERE) $(if $(TO),--to $(TO)) $(if $(filter-out 0 no false,$(DRY_RUN)),--dry-run)

report: $(VENV)/.installed
	PYTHONPATH=layers/kyber:layers/models $(PYTHON) -m model_build.report --out build/model-report

DRIFT_OUT ?= build/drift-report

drift: .venv-drift/.installed
	@test -n "$(CAPTURE)" || { echo "usage: make drift CAPTURE=<folder of capture files, or s3://bucket/prefix> [REFERENCE=<csv>]" >&2; exit 2; }
	env $(AWS_OWN) .venv-drift/bin/python -m scripts.drift --capture "$(CAPTURE)" --out "$(DRIFT_OUT)" $(if $(REFERENCE),--reference "$(REFERENCE)")

# How each challenger did in its champion's shadow, from captured requests or (without CAPTURE) from the shadow's
# metrics in CloudWatch since SINCE; its verdict against challenger_gate.toml [online] in build/shadow-report/.
shadow-report: $(VENV)/.installed
	env $(AWS_OWN) PYTHONPATH=layers/kyber:layers/models $(PYTHON) -m scripts.shadow \
		$(if $(CAPTURE),--capture "$(CAPTURE)") $(if $(SINCE),--since "$(SINCE)") $(if $(REGION),--region $(REGION))

# REASON reaches the command through the environment, so that any quotes in it stay as they are.
promote: $(VENV)/.installed
	@test -n "$(MODEL)" || { echo 'usage: make promote MODEL=<sklearn|pytorch> [FORCE=1 REASON="..."]' >&2; exit 2; }
	PYTHONPATH=layers/kyber:layers/models $(PYTHON) -m model_build.promote --model "$(MODEL)" \
		$(if $(FORCE),--force-reason "$$REASON")

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
