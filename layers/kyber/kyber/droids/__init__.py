"""The droids' API, the functions' first face: a POST of crystalData rows (and, on /astromech, the model) answered
with every row's most probable colour and every colour's score, from the same scorer as the other face.

  request   a droid's body read: the model choice and the crystalData batch, or what is wrong with them
  response  the answer written: the prediction, the model's headers
  routes    the route a function includes, its face (how its errors are written) and its description
"""

from kyber.droids.routes import DROIDS, DroidsApi

__all__ = ["DROIDS", "DroidsApi"]
