"""`make release`, `make releases` and `make rollback`: the ML team's delivery built, gated, uploaded as a
content-addressed S3 release, deployed through `sam deploy` and CodeDeploy's canary, then smoke-checked against
answers computed from its own ONNX files; what served when, read back from AWS; and the way back.

  aws.py            boto3 clients (one function, taking the region) and the stack as CloudFormation describes it
  store.py          a release in S3: its name, its upload (an identical one reused, a different one refused)
  known_answers.py  what the sample events must get from a release, computed from its ONNX files
  deploy.py         `sam deploy` through one runner, CodeDeploy's deployments waited for, reported or stopped
  history.py        each function's published versions, the release each serves, where `live` points
  steps.py          the steps of a release and of a rollback, each one function, stopping at the first failure
"""
