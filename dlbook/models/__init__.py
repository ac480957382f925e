"""Ready-made networks of the book, defined once in NumPy (:mod:`dlbook.nn`) with torch twins."""

from .char_rnn import (CharRNN, CharRNNTorch, SequenceCrossEntropyLoss,
                       SequenceCrossEntropyLossTorch)
from .alexnet import alexnet, alexnet_layers, alexnet_parameter_count
from .cnn import digits_cnn, digits_cnn_torch
from .mlp import mlp
from .summary import as_table, summary
from .vgg import vgg, vgg_layers, vgg_parameter_count
from .resnet import (BasicBlock, Bottleneck, PreActBasicBlock, PreActBottleneck, ResNet,
                     ResNetTorch, ZeroPadShortcut, cifar_resnet, cifar_resnet_torch,
                     imagenet_resnet, imagenet_resnet_torch)
from .word2vec import Word2Vec, save_word2vec_format, train_word2vec
from .srgan import Discriminator, SRResNet

__all__ = ["digits_cnn", "digits_cnn_torch", "mlp",
           "alexnet", "alexnet_layers", "alexnet_parameter_count", "as_table", "summary",
           "vgg", "vgg_layers", "vgg_parameter_count",
           "BasicBlock", "Bottleneck", "PreActBasicBlock", "PreActBottleneck", "ResNet",
           "ResNetTorch", "ZeroPadShortcut", "cifar_resnet", "cifar_resnet_torch",
           "imagenet_resnet", "imagenet_resnet_torch",
           "CharRNN", "CharRNNTorch", "SequenceCrossEntropyLoss", "SequenceCrossEntropyLossTorch",
           "Word2Vec", "train_word2vec", "save_word2vec_format",
           "SRResNet", "Discriminator"]
