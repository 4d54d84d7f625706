"""The models layer's build: the ML team's native artifacts compiled into ONNX files, their labels, a model card
per model and a hashed manifest, or nothing at all. One entry point, `model_build.layer.build`; its stages, one
module each:

  load      model_build.load      the native artifacts, read and checked against the contract (4 features in,
                                  one score per label out)
  export    model_build.export    each model written as ONNX, with the contract's input and output
  parity    model_build.parity    each export against its native model on probe and evaluation rows
  evaluate  model_build.evaluation  each model, as served, measured on the held-out evaluation rows
  gate      model_build.gate      the quality gate (quality_gate.toml)
  cost      model_build.cost      the serving-cost gate: size, load time, memory, latency (serving_cost.toml)
  card      model_build.card      a model card per model (Model Card Toolkit's schema)
  manifest  model_build.install   labels, hashes and figures in manifest.json
  install   model_build.install   the finished folder put in place in one rename

model_build.compile runs one model through export to card. `python -m model_build` is what `sam build` runs.
Importing the package imports none of its stages: a tool that needs one module (crystal_mlp, parity) pays for it alone.
"""
