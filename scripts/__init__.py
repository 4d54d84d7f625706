"""The project's tooling, one folder per role: harness/ calls the service (tests and tools alike), perf/ measures
it, emulator/ makes SAM CLI's emulator usable here, mutation/ runs mutation testing, deploy/ acts on a deployed
stack, release/ ships a model release and goes back, drift/ reports on captured requests, shadow/ on how a
challenger did in its champion's shadow; openapi.py writes the contract (with protocol_models.py, run in
.venv-clients), project.py reads the facts the template owns and template_variant.py writes the template with other
defaults for the linters."""
