"""What two Open Inference Protocol clients nobody here wrote make of the API: tritonclient[http] and KServe's
InferenceRESTClient, each asked for health, metadata, inference and an error, the results printed as JSON.

It runs in .venv-clients (requirements/clients.txt; their pins clash with SAM CLI's), started by
tests/integration/test_protocol_clients.py: python protocol_clients.py URL ROWS_JSON [API_KEY]
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

INPUT = "crystal_data"


def triton_error(action: Any) -> dict[str, Any]:
    try:
        action()
    except InferenceServerException as error:
        return {"status": error.status(), "message": error.message()}
    return {"status": "no error"}


def triton_infer(
    client: triton.InferenceServerClient, model: str, rows: np.ndarray, headers: dict[str, str], class_count: int = 0
) -> dict[str, Any]:
    datatype = client.get_model_metadata(model, headers=headers)["inputs"][0]["datatype"]
    tensor = triton.InferInput(INPUT, list(rows.shape), datatype)
    tensor.set_data_from_numpy(rows.astype(np.float32 if datatype == "FP32" else np.float64), binary_data=False)
    outputs = [triton.InferRequestedOutput("probabilities", binary_data=False, class_count=class_count)]
    if not class_count:
        outputs.append(triton.InferRequestedOutput("label", binary_data=False))
    result = client.infer(model, [tensor], outputs=outputs, request_id=f"triton-{model}", headers=headers)
    response = result.get_response()
    answer = {
        "id": response.get("id"),
        "model_name": response["model_name"],
        "model_version": response["model_version"],
        "probabilities": result.as_numpy("probabilities").tolist(),
        "datatype": result.get_output("probabilities")["datatype"],
    }
    if not class_count:
        answer["labels"] = [label.decode() if isinstance(label, bytes) else label for label in result.as_numpy("label")]
    return answer


def with_tritonclient(url: str, rows: np.ndarray, headers: dict[str, str]) -> dict[str, Any]:
    parts = urlsplit(url)
    # tritonclient takes the address without its scheme, with the stage's path when there is one.
    client = triton.InferenceServerClient(url=parts.netloc + parts.path.rstrip("/"))
    metadata = {model: client.get_model_metadata(model, headers=headers) for model in ("sklearn", "pytorch")}
    version = metadata["pytorch"]["versions"][0]
    unbatched = triton.InferInput(INPUT, [4], "FP64")
    unbatched.set_data_from_numpy(rows[0], binary_data=False)
    # Small whole numbers as INT64 bytes are valid UTF-8, which sam local requires of every body (it answers
    # others with its own 502 before any function runs).
    binary = triton.InferInput(INPUT, list(rows.shape), "INT64")
    binary.set_data_from_numpy(rows.round().astype(np.int64))
    return {
        "live": client.is_server_live(headers=headers),
        "ready": client.is_server_ready(headers=headers),
        "sklearn ready": client.is_model_ready("sklearn", headers=headers),
        "pytorch ready at its version": client.is_model_ready("pytorch", version, headers=headers),
        "tensorflow ready": client.is_model_ready("tensorflow", headers=headers),
        "server": client.get_server_metadata(headers=headers),
        "metadata": metadata,
        "infer": {model: triton_infer(client, model, rows, headers) for model in ("sklearn", "pytorch")},
        "classification": triton_infer(client, "pytorch", rows, headers, class_count=2),
        "unknown model": triton_error(lambda: client.infer("tensorflow", [unbatched], headers=headers)),
        "wrong shape": triton_error(lambda: client.infer("sklearn", [unbatched], headers=headers)),
        # tritonclient adds its binary header to the headers it is given
        "binary data": triton_error(lambda: client.infer("sklearn", [binary], headers=dict(headers))),
    }


async def with_kserve(url: str, rows: np.ndarray, headers: dict[str, str]) -> dict[str, Any]:
    import httpx
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    base = url.rstrip("/") + "/"
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=120))
    try:
        answers: dict[str, Any] = {
            "live": await client.is_server_live(base, headers=headers),
            "ready": await client.is_server_ready(base, headers=headers),
            "sklearn ready": await client.is_model_ready(base, "sklearn", headers=headers),
            "tensorflow ready": await client.is_model_ready(base, "tensorflow", headers=headers),
        }
        tensor = InferInput(name=INPUT, shape=list(rows.shape), datatype="FP64")
        tensor.set_data_from_numpy(rows, binary_data=False)
        request = InferRequest(model_name="sklearn", infer_inputs=[tensor], request_id="kserve-1")
        response = await client.infer(base, request, model_name="sklearn", headers=headers)
        answers["infer"] = {
            "id": response.id,
            "model_name": response.model_name,
            "probabilities": response.outputs[0].as_numpy().tolist(),
            "labels": [str(label) for label in response.outputs[1].as_numpy()],
        }
        short = InferInput(name=INPUT, shape=[len(rows) + 1, 4], datatype="FP64", data=rows.ravel().tolist())
        try:
            short_request = InferRequest(model_name="sklearn", infer_inputs=[short])
            await client.infer(base, short_request, model_name="sklearn", headers=headers)
            answers["data short of its shape"] = "no error"
        except httpx.HTTPStatusError as error:
            answers["data short of its shape"] = {"status": error.response.status_code, "message": str(error)}
    finally:
        await client.close()
    return answers


def main(url: str, rows_json: str, api_key: str = "") -> None:
    rows = np.array(json.loads(rows_json), dtype=np.float64)
    headers = {"x-api-key": api_key} if api_key else {}
    results = {
        "tritonclient": with_tritonclient(url, rows, headers),
        "kserve": asyncio.run(with_kserve(url, rows, headers)),
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
