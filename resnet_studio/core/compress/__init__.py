"""Compression of trained runs: magnitude pruning with fine-tuning, and integer
quantization to TFLite measured on the test split (docs/compression.md).

Written on Keras 3 APIs: TensorFlow Model Optimization (tfmot 0.8.x) only works with the
Keras 2 API (the `tf_keras` package), and Keras 3 itself has no pruning API.
"""
