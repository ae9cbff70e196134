"""Object detection from synthetic images (Tremblay et al. 2018): randomized, realistic and structured looks."""
