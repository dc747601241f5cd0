"""Train a GAN on Fashion-MNIST: ``python -m npgan.demos.fashion_mnist --help``.

The same model, flags and outputs as the MNIST demo, on Zalando's 28x28 garments. The data
comes from Debian's package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/) or
from --data-dir. With --conditional, sample grids have one row per garment class.
"""

import sys

from npgan.data import FASHION_MNIST_CLASSES, load_fashion_mnist
from npgan.demos.common import main

DESCRIPTION = ("Train the classic fully connected GAN (or, with --conditional, the conditional "
               "GAN) on Fashion-MNIST, about 5 minutes on 2 CPU cores with the defaults (30 "
               "epochs; 15 with --conditional, about 3-4 minutes); with "
               "--model dcgan the convolutional GAN, about 10 minutes. "
               "Needs the dataset: sudo apt-get install dataset-fashion-mnist, or --data-dir.")

if __name__ == "__main__":
    # default_epochs: the conditional GAN's and a --config network's; the plain fully
    # connected GAN's own are 30 (demos/flags.py PLAIN_EPOCHS), the DCGAN's 10
    sys.exit(main(sys.argv[1:], dataset="fashion_mnist", load_images=load_fashion_mnist,
                  default_epochs=15, description=DESCRIPTION, class_names=FASHION_MNIST_CLASSES))
