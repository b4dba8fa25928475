"""Style Brushes: translations (CycleGAN, CUT, FastCUT, SinCUT) painted onto a photo through soft masks."""
