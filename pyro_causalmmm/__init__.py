"""pyro_causalmmm."""
