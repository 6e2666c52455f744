"""Pretrained models served as they are (no training): a catalog, encoders and the embed / zero-shot services.

Heavy libraries (torch, transformers, onnxruntime) load only when an encoder is first asked for, so
importing this package stays cheap.
"""
