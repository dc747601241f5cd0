"""Train a GAN on MNIST: ``python -m npgan.demos.mnist --help``.

The defaults (30 epochs, batch 64, Adam 2e-4, D's real labels smoothed to 0.9, InfoGAN's ten
codes with weight 0.1) train to clean digits in about 5 minutes on 2 CPU cores, using the copy
of MNIST that ships inside npgan.
"""

import sys

from npgan.data import load_mnist
from npgan.demos.common import main

DESCRIPTION = ("Train the classic fully connected GAN on MNIST with npgan's hand-written "
               "backprop. The defaults draw clean digits after about 5 minutes on 2 CPU "
               "cores, and their sample grids show one row per InfoGAN code (--info). "
               "Writes sample grids, loss curves, history.csv and a checkpoint. "
               "With --conditional, G draws the digit it is asked for (grids: one row per "
               "digit; 30 epochs, about 6 minutes). "
               "With --model dcgan, the convolutional GAN (about 10 minutes).")

if __name__ == "__main__":
    # default_epochs is a --config network's: the fully connected GAN's own are 30
    # (demos/flags.py PLAIN_EPOCHS and CONDITIONAL_EPOCHS), the DCGAN's 14 without
    # --conditional (DCGAN_PLAIN_EPOCHS), else 10 (DCGAN_EPOCHS)
    sys.exit(main(sys.argv[1:], dataset="mnist", load_images=load_mnist, default_epochs=15,
                  description=DESCRIPTION))
