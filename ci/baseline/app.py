#!/usr/bin/env python3
"""Python baseline server: FastAPI + onnxruntime, the KServe V2 JSON subset.

The reference point for ci/bench-serve.sh: the kind of Python model server
people run today (FastAPI on uvicorn, pydantic request models, an
onnxruntime InferenceSession), serving the same ONNX model over the same
Open Inference Protocol endpoints model-server answers:

  GET  /v2/health/live, /v2/health/ready, /v2/models/{name}
  POST /v2/models/{name}/infer

One request is one onnxruntime call (no batching across requests). Run:

  python3 ci/baseline/app.py --model tests/fixtures/models/digits-mlp.onnx \
      --model-name digits --port 8081 --threads 1
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel

# KServe V2 datatype names <-> numpy, and onnxruntime's type strings -> V2.
V2_TO_NUMPY = {
    "FP32": np.float32,
    "FP64": np.float64,
    "INT64": np.int64,
    "INT32": np.int32,
    "UINT8": np.uint8,
    "BOOL": np.bool_,
}
NUMPY_TO_V2 = {np.dtype(v).name: k for k, v in V2_TO_NUMPY.items()}
ORT_TO_V2 = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(uint8)": "UINT8",
    "tensor(bool)": "BOOL",
}


class InferInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class RequestedOutput(BaseModel):
    name: str


class InferRequest(BaseModel):
    id: str | None = None
    inputs: list[InferInput]
    outputs: list[RequestedOutput] | None = None


def tensor_meta(arg: ort.NodeArg) -> dict:
    shape = [d if isinstance(d, int) else -1 for d in arg.shape]
    return {"name": arg.name, "datatype": ORT_TO_V2.get(arg.type, arg.type), "shape": shape}


def create_app(model_path: str, model_name: str, threads: int) -> FastAPI:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    output_names = [o.name for o in session.get_outputs()]
    metadata = {
        "name": model_name,
        "platform": "onnxruntime_onnx",
        "inputs": [tensor_meta(i) for i in session.get_inputs()],
        "outputs": [tensor_meta(o) for o in session.get_outputs()],
    }
    app = FastAPI(title="digits baseline")

    def check_model(name: str) -> None:
        if name != model_name:
            raise HTTPException(status_code=404, detail=f"unknown model {name!r}")

    @app.exception_handler(HTTPException)
    async def v2_error(_request, exc: HTTPException):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @app.get("/v2/health/live")
    def live() -> dict:
        return {"live": True}

    @app.get("/v2/health/ready")
    def ready() -> dict:
        return {"ready": True}

    @app.get("/v2/models/{name}")
    def model_metadata(name: str) -> dict:
        check_model(name)
        return metadata

    @app.post("/v2/models/{name}/infer")
    def infer(name: str, request: InferRequest) -> dict:
        check_model(name)
        feeds = {}
        for tensor in request.inputs:
            if tensor.name not in inputs:
                raise HTTPException(status_code=400, detail=f"unknown input {tensor.name!r}")
            dtype = V2_TO_NUMPY.get(tensor.datatype)
            if dtype is None:
                raise HTTPException(status_code=400, detail=f"unsupported datatype {tensor.datatype}")
            try:
                feeds[tensor.name] = np.asarray(tensor.data, dtype=dtype).reshape(tensor.shape)
            except ValueError as exc:
                raise HTTPException(status_code=400, detail=f"input {tensor.name!r}: {exc}") from exc
        wanted = [o.name for o in request.outputs] if request.outputs else output_names
        try:
            results = session.run(wanted, feeds)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        response = {
            "model_name": model_name,
            "outputs": [
                {
                    "name": out_name,
                    "datatype": NUMPY_TO_V2.get(value.dtype.name, value.dtype.name),
                    "shape": list(value.shape),
                    "data": value.ravel().tolist(),
                }
                for out_name, value in zip(wanted, results)
            ],
        }
        if request.id is not None:
            response["id"] = request.id
        return response

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="FastAPI + onnxruntime KServe V2 baseline")
    parser.add_argument("--model", required=True, help="path of the ONNX model")
    parser.add_argument("--model-name", default="digits")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    if args.workers == 1:
        app = create_app(args.model, args.model_name, args.threads)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    else:
        os.environ.update(
            BASELINE_MODEL=args.model,
            BASELINE_MODEL_NAME=args.model_name,
            BASELINE_THREADS=str(args.threads),
        )
        uvicorn.run(
            "app:factory",
            factory=True,
            app_dir=os.path.dirname(os.path.abspath(__file__)),
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
            access_log=False,
        )


def factory() -> FastAPI:
    """Entry point for uvicorn workers (--workers > 1): settings come from the environment."""
    return create_app(
        os.environ["BASELINE_MODEL"],
        os.environ.get("BASELINE_MODEL_NAME", "digits"),
        int(os.environ.get("BASELINE_THREADS", "1")),
    )


if __name__ == "__main__":
    main()
