"""Layers with hand-written backward passes. Read linear.py first, then activations.py,
batchnorm.py, sequential.py; module.py holds the small base class they share."""

from npgan.nn.activations import LeakyReLU, ReLU, Sigmoid, Tanh
from npgan.nn.batchnorm import BatchNorm1d, BatchNorm2d
from npgan.nn.dropout import Dropout
from npgan.nn.embedding import Embedding
from npgan.nn.linear import Linear
from npgan.nn.module import Module, Parameter, input_grad_only, pack_parameters
from npgan.nn.sequential import Sequential

__all__ = ["BatchNorm1d", "BatchNorm2d", "Dropout", "Embedding", "LeakyReLU", "Linear", "Module",
           "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh", "input_grad_only",
           "pack_parameters"]
