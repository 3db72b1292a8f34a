"""Multi-task models: pure TensorFlow/Keras, independent of the pipeline."""
