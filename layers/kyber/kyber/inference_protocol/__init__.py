"""The Open Inference Protocol (KServe v2 REST), the second face of the functions beside the droids' API: the same
scorer, models, limits and error statuses, read and answered in the protocol's JSON.

  codec     the protocol's datatypes in one table; a tensor decoded into a batch, and encoded
  request   an inference request read (JSON only), or what is wrong with it
  response  an inference response written
  routes    the routes a function includes: server and model metadata, readiness, inference
"""

from kyber.inference_protocol.codec import FLOAT_LIMITS, INTEGER_DATATYPES
from kyber.inference_protocol.routes import PROTOCOL, SERVER_VERSION, InferenceProtocol

__all__ = ["FLOAT_LIMITS", "INTEGER_DATATYPES", "PROTOCOL", "SERVER_VERSION", "InferenceProtocol"]
