"""Pure functions: strings, ints and numpy arrays in, models out. No I/O, no environment."""
