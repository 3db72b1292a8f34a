"""The pipeline around the model, one concern per sub-package.

Imports run one way: cli -> runs -> dag / monitoring / serving -> data / evaluation -> core,
and every layer may use `models` and `components`; `kubeflow` sits beside `runs`.
"""
