"""Layers with hand-written backward passes. Read linear.py first, then activations.py,
batchnorm.py, sequential.py; module.py holds the small base class they share. The
convolutional layers: conv_reference.py (plain loops) first, then conv.py, upsample.py and
reshape.py."""

from npgan.nn.activations import LeakyReLU, ReLU, Sigmoid, Tanh
from npgan.nn.batchnorm import BatchNorm1d, BatchNorm2d
from npgan.nn.conv import Conv2d, ConvTranspose2d
from npgan.nn.dropout import Dropout
from npgan.nn.embedding import Embedding
from npgan.nn.linear import Linear
from npgan.nn.module import Module, Parameter, input_grad_only, pack_parameters
from npgan.nn.reshape import Flatten, Unflatten
from npgan.nn.sequential import Sequential
from npgan.nn.upsample import Upsample

__all__ = ["BatchNorm1d", "BatchNorm2d", "Conv2d", "ConvTranspose2d", "Dropout", "Embedding",
           "Flatten", "LeakyReLU", "Linear", "Module", "Parameter", "ReLU", "Sequential",
           "Sigmoid", "Tanh", "Unflatten", "Upsample", "input_grad_only", "pack_parameters"]
