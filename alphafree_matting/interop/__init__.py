"""Deployment: ONNX export of any ``MattingModel`` and onnxruntime inference with the predictor's
interface. Import the submodules (``onnx_export``, ``onnx_predictor``) explicitly; they need the
``interop`` extra (``pip install -e ".[interop]"``), which the training path never imports."""
